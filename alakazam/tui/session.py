"""The TUI's session: a config document edited in place, saved as YAML `alakazam run` accepts.

The session keeps the YAML document itself (so that load -> save gives the same config) and
edits the first solve block's per-step lists. Validation is the engine's own config validator,
its one-line problems mapped back to (step, key) so the app can show them beside the field.
"""

from __future__ import annotations

import os
import re
import tempfile

import yaml

from alakazam.engine.config import load_config
from alakazam.engine.errors import InputError

STEP_KEYS = ("jones", "field", "time_interval", "freq_interval", "phase_only",
             "preapply_time_interp")
STEP_DEFAULTS = {"time_interval": "inf", "freq_interval": "full", "phase_only": False,
                 "preapply_time_interp": "linear"}


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
    def for_ms(cls, ms: str, output: str = "cal.h5") -> "Session":
        """A new session on `ms` (paths relative to where the config will be saved)."""
        return cls({"solve": [{"ms": ms, "output": output, "ref_ant": "auto", "jones": [],
                               "field": []}]})

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
        out = []
        for i in range(n):
            step = {}
            for key in STEP_KEYS:
                value = block.get(key, STEP_DEFAULTS.get(key))
                if key == "field" and not isinstance(value, list):
                    value = [value] * n
                step[key] = value[i] if isinstance(value, list) and len(value) == n else value
            out.append(step)
        return out

    def _store(self, steps: list[dict]) -> None:
        block = self.block
        for key in STEP_KEYS:
            if key in ("jones", "field") or key in block or any(
                    s[key] != STEP_DEFAULTS.get(key) for s in steps):
                block[key] = [s[key] for s in steps]

    def add_step(self, jones: str, fields: list) -> None:
        steps = self.steps()
        steps.append({**STEP_DEFAULTS, "jones": jones, "field": list(fields)})
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

    # ---- validation ----------------------------------------------------------------------
    def problems(self) -> list[tuple[int | None, str, str]]:
        """(step index or None, key, message) for each problem the engine's validator finds."""
        folder = os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=folder, delete=False) as fh:
            fh.write(self.text())
        try:
            load_config(fh.name)
        except InputError as exc:
            return [_locate(line) for line in str(exc).splitlines()]
        finally:
            os.remove(fh.name)
        return []


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _locate(line: str) -> tuple[int | None, str, str]:
    """'<file>: solve[0].time_interval[1]: msg' -> (1, 'time_interval', msg)."""
    match = re.search(r"solve\[\d+\]\.([a-z_]+)(?:\[(\d+)\])?: (.*)$", line)
    if not match:
        return None, "", line.split(": ", 1)[-1]
    return (int(match.group(2)) if match.group(2) else None), match.group(1), match.group(3)
