"""The TUI's session: a config document edited in place, saved as YAML `alakazam run` accepts.

The session keeps the YAML document itself (so that load -> save gives the same config) and
edits the first solve block's per-step lists, its external pre-apply tables and the first apply
block. Validation is the engine's own: the config validator, then the solve plan against the
MS's metadata; each one-line problem is mapped back to a Problem (section, index, key) so the
app can show it beside the input it concerns.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import NamedTuple

import yaml

from alakazam.engine.config import load_config
from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta
from alakazam.engine.solve import plan

STEP_KEYS = ("jones", "field", "scans", "step_spw", "time_interval", "freq_interval",
             "phase_only", "preapply_time_interp", "model")
STEP_DEFAULTS = {"scans": None, "step_spw": None, "time_interval": "inf",
                 "freq_interval": "full", "phase_only": False, "preapply_time_interp": "linear",
                 "model": None}  # model: kept with its step (edited in the YAML)
TERM_KEYS = ("tables", "jones", "field_select", "time_interp", "solution_field")
TERM_DEFAULTS = {"field_select": "nearest_time", "time_interp": "linear", "solution_field": None}
FLUX_KEYS = ("reference_field", "reference_table", "transfer_field", "transfer_table", "output",
             "amp_outlier_sigma")
_ORDER = ("solve", "fluxscale", "apply")  # the order of the blocks in a saved config


class Problem(NamedTuple):
    """One problem: section (solve, external, fluxscale or apply), index (the step, table or
    fluxscale block it concerns, or None), key (the config key, or "" for the block as a
    whole), message."""

    section: str
    index: int | None
    key: str
    message: str


class Session:
    def __init__(self, doc: dict | None = None, path: str | None = None):
        self.doc = doc if doc is not None else {"solve": []}
        self.path = path

    @classmethod
    def load(cls, path: str) -> "Session":
        with open(path) as fh:
            doc = yaml.safe_load(fh) or {}
        if not isinstance(doc, dict):
            raise InputError(f"{path}: not a config (expected a mapping)")
        return cls(doc, path)

    @classmethod
    def for_ms(cls, ms: str, path: str, output: str = "cal.h5") -> "Session":
        """A new session on `ms`, to be saved at `path` (`ms` and `output` relative to it)."""
        return cls({"solve": [{"ms": ms, "output": output, "ref_ant": "auto", "jones": [],
                               "field": []}]}, path)

    def text(self) -> str:
        return yaml.safe_dump(self.doc, sort_keys=False)

    def save(self, path: str | None = None) -> str:
        """Write the YAML through a temporary name; returns the path."""
        path = path or self.path
        tmp = f"{path}.partial-{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(self.text())
        os.replace(tmp, path)
        self.path = path
        return path

    # ---- the first solve block ---------------------------------------------------------
    @property
    def block(self) -> dict:
        if not self.doc.get("solve"):
            self.doc["solve"] = [{"jones": [], "field": []}]
        blocks = self.doc["solve"]
        return blocks[0] if isinstance(blocks, list) else blocks

    def steps(self) -> list[dict]:
        """Per-step values, scalars expanded, one dict per step."""
        block = self.block
        n = len(_as_list(block.get("jones", [])))
        return [{key: _entry(block.get(key, STEP_DEFAULTS.get(key)), i, n) for key in STEP_KEYS}
                for i in range(n)]

    def _store(self, steps: list[dict]) -> None:
        block = self.block
        for key in STEP_KEYS:
            if key in ("jones", "field") or key in block or any(
                    s[key] != STEP_DEFAULTS.get(key) for s in steps):
                block[key] = [s[key] for s in steps]

    def add_step(self, jones: str, fields: list, scans=None, spw=None) -> None:
        """A new last step; scans: one spec per field (or one for all, None = all scans)."""
        steps = self.steps()
        steps.append({**STEP_DEFAULTS, "jones": jones, "field": list(fields), "scans": scans,
                      "step_spw": spw})
        self._store(steps)

    def remove_step(self, index: int) -> None:
        steps = self.steps()
        del steps[index]
        self._store(steps)

    def move_step(self, index: int, offset: int) -> int:
        steps = self.steps()
        target = index + offset
        if 0 <= target < len(steps):
            steps[index], steps[target] = steps[target], steps[index]
            self._store(steps)
            return target
        return index

    def set_step(self, index: int, key: str, value) -> None:
        steps = self.steps()
        steps[index][key] = value
        self._store(steps)

    def set(self, key: str, value) -> None:
        self.block[key] = value

    # ---- tables: external pre-apply of the solve block, terms of the first apply block ----
    def terms_block(self, section: str, create: bool = False) -> dict | None:
        """The mapping holding the parallel table lists of `section` ("external" or "apply")."""
        if section == "external":
            if create:
                self.block.setdefault("external_preapply", {"tables": [], "jones": []})
            return self.block.get("external_preapply")
        blocks = self.doc.get("apply")
        if not blocks and create:
            blocks = [{"ms": self.block.get("ms", ""), "target_field": "",
                       "output_col": "CORRECTED_DATA", "jones": [], "tables": []}]
            self._reorder(apply=blocks)
        return (blocks[0] if isinstance(blocks, list) else blocks) if blocks else None

    def terms(self, section: str) -> list[dict]:
        """One dict per table of `section`, scalars expanded."""
        mapping = self.terms_block(section) or {}
        n = len(_as_list(mapping.get("tables", [])))
        return [{key: _entry(mapping.get(key, TERM_DEFAULTS.get(key)), i, n)
                 for key in TERM_KEYS} for i in range(n)]

    def _store_terms(self, section: str, terms: list[dict]) -> None:
        mapping = self.terms_block(section, create=True)
        for key in TERM_KEYS:
            if key in ("tables", "jones") or key in mapping or any(
                    t[key] != TERM_DEFAULTS.get(key) for t in terms):
                mapping[key] = [t[key] for t in terms]
        if section == "external" and not terms:
            del self.block["external_preapply"]

    def add_term(self, section: str, table: str, jones: str, **settings) -> None:
        self._store_terms(section, self.terms(section) + [
            {**TERM_DEFAULTS, "tables": table, "jones": jones, **settings}])

    def remove_term(self, section: str, index: int) -> None:
        terms = self.terms(section)
        del terms[index]
        self._store_terms(section, terms)

    def move_term(self, section: str, index: int, offset: int) -> int:
        terms = self.terms(section)
        target = index + offset
        if 0 <= target < len(terms):
            terms[index], terms[target] = terms[target], terms[index]
            self._store_terms(section, terms)
            return target
        return index

    def set_term(self, section: str, index: int, key: str, value) -> None:
        terms = self.terms(section)
        terms[index][key] = value
        self._store_terms(section, terms)

    def set_apply(self, key: str, value) -> None:
        self.terms_block("apply", create=True)[key] = value

    def apply_from_chain(self, target: str) -> None:
        """An apply block correcting `target` with every step of the solve chain, in order
        (each table's field chosen by nearest_time, linear interpolation)."""
        self.set_apply("target_field", target)
        self._store_terms("apply", [{**TERM_DEFAULTS, "tables": self.block.get("output", ""),
                                     "jones": step["jones"]} for step in self.steps()])

    # ---- fluxscale blocks -----------------------------------------------------------------
    def flux_blocks(self) -> list[dict]:
        """The fluxscale blocks themselves (edited in place)."""
        blocks = self.doc.get("fluxscale") or []
        return [blocks] if isinstance(blocks, dict) else blocks

    def flux_entries(self) -> list[dict]:
        return [{key: block.get(key) for key in FLUX_KEYS} for block in self.flux_blocks()]

    def add_flux_block(self) -> None:
        """A new block: reference the first field of the chain, transfer the other fields the
        G steps solve, from and to tables beside the solve output."""
        fields = [f for step in self.steps() if step["jones"] == "G"
                  for f in _as_list(step["field"])]
        first = next(iter(fields), "")
        output = str(self.block.get("output", "cal.h5"))
        block = {"reference_table": output, "reference_field": first, "transfer_table": output,
                 "transfer_field": [f for f in dict.fromkeys(fields) if f != first],
                 "output": output.replace(".h5", "") + "_scaled.h5"}
        self._reorder(fluxscale=self.flux_blocks() + [block])

    def remove_flux_block(self, index: int) -> None:
        blocks = self.flux_blocks()
        del blocks[index]
        self._reorder(fluxscale=blocks)

    def move_flux_block(self, index: int, offset: int) -> int:
        blocks = self.flux_blocks()
        target = index + offset
        if 0 <= target < len(blocks):
            blocks[index], blocks[target] = blocks[target], blocks[index]
            self._reorder(fluxscale=blocks)
            return target
        return index

    def set_flux(self, index: int, key: str, value) -> None:
        block = self.flux_blocks()[index]
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value

    def _reorder(self, **blocks) -> None:
        """Set top-level blocks (an empty list removes one), keeping solve, fluxscale, apply
        in that order ahead of any other key."""
        items = {**self.doc, **blocks}
        self.doc.clear()
        for key in (*_ORDER, *items):
            if key in items and key not in self.doc and items[key] != []:
                self.doc[key] = items[key]

    # ---- validation ----------------------------------------------------------------------
    def problems(self, meta: MSMeta | None = None) -> list[Problem]:
        """Every problem the engine's config validator finds; when there is none and `meta`
        (the metadata of the solve block's MS) is given, the first problem of the solve plan
        against it (unknown fields, scans, SPWs, antennas)."""
        folder = os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=folder, delete=False) as fh:
            fh.write(self.text())
        try:
            config = load_config(fh.name)
        except InputError as exc:
            return [_locate(line) for line in str(exc).splitlines()]
        finally:
            os.remove(fh.name)
        if meta is not None:
            for i, block in enumerate(config.solve):
                if os.path.normpath(block.ms) == os.path.normpath(os.path.abspath(meta.path)):
                    try:
                        plan(block, f"solve[{i}]", meta)
                    except InputError as exc:
                        return [_locate(str(exc))]
        return []


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _entry(value, i: int, n: int):
    """Entry i of a per-step (per-table) list of n entries; a scalar applies to all."""
    return value[i] if isinstance(value, list) and len(value) == n else value


_PLAN_KEYS = (("field", "field"), ("scan", "scans"), ("spw", "step_spw"), ("jones", "jones"))


def _locate(line: str) -> Problem:
    """'<file>: solve[0].time_interval[1]: msg' -> Problem('solve', 1, 'time_interval', msg);
    external_preapply.<key>[i] -> section external; apply[0].<key>[i] -> section apply;
    'solve[0] step 1 (G): field ...' (from the plan) -> the step's field, scans or step_spw;
    fluxscale[2].<key>... -> section fluxscale, index 2."""
    flux = re.search(r"fluxscale\[(\d+)\](?:\.([a-z_]+))?[^:]*: (.*)$", line)
    if flux:
        return Problem("fluxscale", int(flux.group(1)), flux.group(2) or "", flux.group(3))
    match = re.search(r"(solve|apply)\[\d+\](?:\.(external_preapply)?\.?([a-z_]*)"
                      r"(?:\[(\d+)\])?)?: (.*)$", line)
    step = re.search(r"solve\[\d+\] step (\d+) \([A-Za-z]+\): (.*)$", line)
    if step:
        message = step.group(2)
        key = next((k for prefix, k in _PLAN_KEYS if message.lower().startswith(prefix)), "")
        return Problem("solve", int(step.group(1)), key, message)
    if not match:
        return Problem("solve", None, "", line.split(": ", 1)[-1])
    block, external, key, index, message = match.groups()
    section = "external" if external else block
    return Problem(section, int(index) if index else None, key or "", message)
