"""The YAML config: parsed once, validated with key paths, into typed dataclasses.

The engine never looks at raw YAML. Every problem found is reported (one line each, naming its
key path such as `solve[0].time_interval[2]`) before any work starts; the solve and apply
planners then check fields, scans, SPWs, columns and antennas against the Measurement Sets.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import yaml

from alakazam.engine.errors import InputError
from alakazam.engine.fluxstandards import check_standard

JONES_TYPES = ("K", "G", "B", "D", "Xf", "Kcross")
POL_TYPES = ("D", "Xf", "Kcross")  # need all four correlations
TIME_INTERPS = ("exact", "nearest", "linear", "cubic")
FIELD_SELECTS = ("nearest_time", "nearest_sky", "pinned")
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hr": 3600.0}
_FREQ_UNITS = {"hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}
_SOLVE_KEYS = {"ms", "output", "ref_ant", "data_col", "model_col", "apply_parang",
               "memory_limit_gb", "rfi_threshold", "max_iter", "tol", "jones", "field", "scans",
               "step_spw", "time_interval", "freq_interval", "phase_only",
               "preapply_time_interp", "min_snr", "external_preapply", "model"}
MODEL_KEYS = {"standard", "polarised", "flux_jy", "stokes", "spix", "ref_freq", "offset"}
_EXTERNAL_KEYS = {"tables", "jones", "field_select", "time_interp", "solution_field"}
_FLUXSCALE_KEYS = {"reference_table", "reference_field", "transfer_table", "transfer_field",
                   "output", "jones_type", "spw", "model_flux_jy", "amp_outlier_sigma", "catalog"}
_APPLY_KEYS = {"ms", "output_col", "target_field", "apply_parang", "spw", "scans", "jones",
               "tables", "field_select", "time_interp", "solution_field", "spwmap",
               "memory_limit_gb"}


@dataclass(frozen=True)
class TimeInterval:
    """seconds: cell length in s (math.inf: one cell over everything; 0: every integration)."""

    text: str
    seconds: float


@dataclass(frozen=True)
class FreqInterval:
    """Either the whole SPW (`full`), a number of channels, or a width in Hz."""

    text: str
    channels: int | None = None
    hz: float | None = None

    @property
    def full(self) -> bool:
        return self.channels is None and self.hz is None


@dataclass(frozen=True)
class ModelSpec:
    """Where a solve's model visibilities come from: a `column` of the MS; a flux `standard`
    (the field is recognised as one of its calibrators; `polarised` adds the standard's linear
    polarisation); or a point source of Stokes `stokes` (I, Q, U, V) Jy at `ref_freq` Hz with
    spectral index `spix`, `offset` (east, north) arcsec from the phase centre."""

    column: str | None = None
    standard: str | None = None
    polarised: bool = True
    stokes: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    spix: float = 0.0
    ref_freq: float = 1e9
    offset: tuple[float, float] = (0.0, 0.0)

    @property
    def turns_with_parallactic_angle(self) -> bool:
        """Whether the model may hold linear polarisation or V (which P rotates)."""
        return (self.standard is not None and self.polarised) or (
            self.column is None and self.standard is None and any(self.stokes[1:]))

    def describe(self) -> str:
        if self.column is not None:
            return self.column
        if self.standard is not None:
            return f"standard {self.standard}" + ("" if self.polarised else " (unpolarised)")
        text = f"point I={self.stokes[0]:g} Jy"
        if any(self.stokes[1:]):
            text += f" Q={self.stokes[1]:g} U={self.stokes[2]:g} V={self.stokes[3]:g}"
        if self.spix:
            text += f" spix {self.spix:g} at {self.ref_freq / 1e9:g} GHz"
        if any(self.offset):
            text += f" offset ({self.offset[0]:g}, {self.offset[1]:g}) arcsec"
        return text


@dataclass(frozen=True)
class SolveStep:
    """One step of a solve chain. fields: names or ids; scans: one scan spec (or None = all)
    per field; spw: SPW spec or None (all); models: one ModelSpec per field."""

    jones: str
    fields: tuple
    scans: tuple
    spw: object
    time_interval: TimeInterval
    freq_interval: FreqInterval
    phase_only: bool
    preapply_time_interp: str
    min_snr: float
    models: tuple = ()


@dataclass(frozen=True)
class ExternalTable:
    """A solution table applied before step 1 (and kept in the chain for every later step)."""

    table: str
    jones: str
    field_select: str
    time_interp: str
    solution_field: str | None = None


@dataclass(frozen=True)
class SolveBlock:
    ms: str
    output: str
    ref_ant: tuple  # antenna names or ids in preference order; ("auto",) for the heuristic
    data_col: str
    model_col: str
    apply_parang: bool
    memory_limit_gb: float
    rfi_threshold: float
    max_iter: int
    tol: float
    steps: tuple[SolveStep, ...]
    external: tuple[ExternalTable, ...] = ()


@dataclass(frozen=True)
class CatalogFlux:
    """A catalogue flux density: flux_jy at ref_freq Hz with spectral index spix."""

    flux_jy: float
    spix: float
    ref_freq: float

    def at(self, freq: float) -> float:
        return self.flux_jy * (freq / self.ref_freq) ** self.spix


@dataclass(frozen=True)
class FluxscaleBlock:
    """Flux densities of `transfer_fields` from the G amplitudes of `reference_field` (both in
    solution tables), written with the rescaled solutions to `output`. model_flux_jy: the flux
    density (Jy) of each transfer field's model when its G was solved; catalog: optional
    catalogue fluxes per transfer field for the spectral-consistency QA; spw: SPW spec or None."""

    reference_table: str
    reference_field: str
    transfer_table: str
    transfer_fields: tuple[str, ...]
    output: str
    jones_type: str
    spw: object
    model_flux_jy: dict
    amp_outlier_sigma: float
    catalog: dict


@dataclass(frozen=True)
class ApplyBlock:
    """Corrections of `target_fields` of `ms` by the chain `terms` (in order), written to
    `output_col`. spwmap: index = target SPW, value = SPW of the tables (empty: identity)."""

    ms: str
    output_col: str
    target_fields: tuple
    apply_parang: bool
    spw: object
    scans: object
    terms: tuple[ExternalTable, ...]
    spwmap: tuple[int, ...]
    memory_limit_gb: float


@dataclass(frozen=True)
class ExecutorSpec:
    """Where solve passes and apply chunks run: `local` forked processes (the default), or
    `dask` on the Dask distributed scheduler at `scheduler` (an address, or `local` for a
    LocalCluster of n_workers processes with memory_limit_gb each, 0 = Dask's default)."""

    kind: str = "local"
    scheduler: str | None = None
    n_workers: int | None = None
    memory_limit_gb: float = 0.0


@dataclass(frozen=True)
class Config:
    path: str
    solve: tuple[SolveBlock, ...] = field(default_factory=tuple)
    fluxscale: tuple[FluxscaleBlock, ...] = field(default_factory=tuple)
    apply: tuple[ApplyBlock, ...] = field(default_factory=tuple)
    executor: ExecutorSpec = ExecutorSpec()


def parse_time_interval(value) -> TimeInterval:
    """`inf`, `int` (every integration), a bare number of seconds, or `120s`, `5min`, `1h`."""
    text = str(value).strip()
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        if value < 0 or math.isnan(value):
            raise ValueError
        return TimeInterval(text, float(value))
    low = text.lower()
    if low == "inf":
        return TimeInterval(text, math.inf)
    if low == "int":
        return TimeInterval(text, 0.0)
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-z]*)", low)
    if not match or (match.group(2) and match.group(2) not in _TIME_UNITS):
        raise ValueError
    seconds = float(match.group(1)) * _TIME_UNITS.get(match.group(2) or "s")
    return TimeInterval(text, seconds)


def parse_freq_interval(value) -> FreqInterval:
    """`full`, a bare number of channels, or a width such as `4MHz`."""
    text = str(value).strip()
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        if value < 1:
            raise ValueError
        return FreqInterval(text, channels=value)
    low = text.lower()
    if low == "full":
        return FreqInterval(text)
    if low.isdigit() and int(low) >= 1:
        return FreqInterval(text, channels=int(low))
    match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([a-z]+)", low)
    if not match or match.group(2) not in _FREQ_UNITS or float(match.group(1)) <= 0:
        raise ValueError
    return FreqInterval(text, hz=float(match.group(1)) * _FREQ_UNITS[match.group(2)])


def parse_frequency(value) -> float:
    """A frequency in Hz: a bare positive number of Hz, or `1.4GHz`, `700MHz`."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError
        return float(value)
    match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", str(value).strip().lower())
    if not match or float(match.group(1)) <= 0 or match.group(2) not in {**_FREQ_UNITS, "": 1}:
        raise ValueError
    return float(match.group(1)) * _FREQ_UNITS.get(match.group(2), 1.0)


class _Problems:
    """Collects one line per problem; raises them all at once."""

    def __init__(self, path: str):
        self.path = path
        self.lines: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.lines.append(f"{self.path}: {key}: {message}")

    def raise_any(self) -> None:
        if self.lines:
            raise InputError("\n".join(self.lines))


def load_config(path: str) -> Config:
    """Read and validate the YAML config at `path` (not yet against the MSs)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise InputError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    problems = _Problems(path)
    if not isinstance(raw, dict):
        problems.add("(top level)", "expected a mapping with solve/fluxscale/apply blocks")
        problems.raise_any()
    for key in raw:
        if key not in ("solve", "fluxscale", "apply", "executor"):
            problems.add(key, "unknown top-level key (expected solve, fluxscale, apply, "
                              "executor)")
    base = os.path.dirname(os.path.abspath(path))
    produced: set[str] = set()  # tables the blocks so far will write

    def solve_block(*args):
        block = _solve_block(*args, produced=frozenset(produced))
        if block is not None:
            produced.add(block.output)  # a later solve block may pre-apply it
        return block

    solve = _blocks(raw, "solve", solve_block, problems, base)
    fluxscale = _blocks(raw, "fluxscale", lambda *a: _fluxscale_block(*a, produced=produced),
                        problems, base)
    _check_appends(raw.get("fluxscale"), fluxscale, problems)
    produced |= {b.output for b in fluxscale}
    apply = _blocks(raw, "apply", lambda *a: _apply_block(*a, produced=produced), problems, base)
    executor = _executor(raw.get("executor"), problems)
    problems.raise_any()
    return Config(path=path, solve=solve, fluxscale=fluxscale, apply=apply, executor=executor)


_EXECUTOR_KEYS = {"type", "scheduler", "n_workers", "memory_limit_gb"}


def _executor(raw, problems) -> ExecutorSpec:
    """The top-level `executor:` block: {type: local | dask, scheduler: ADDRESS | local,
    n_workers, memory_limit_gb} (the last two for a LocalCluster)."""
    if raw is None:
        return ExecutorSpec()
    if not isinstance(raw, dict):
        problems.add("executor", "expected a mapping (type, scheduler, n_workers, memory_limit_gb)")
        return ExecutorSpec()
    for unknown in sorted(set(raw) - _EXECUTOR_KEYS):
        problems.add(f"executor.{unknown}", "unknown key")
    kind = raw.get("type", "dask" if "scheduler" in raw else "local")
    if kind not in ("local", "dask"):
        problems.add("executor.type", f"{kind!r} is not local or dask")
        return ExecutorSpec()
    scheduler = raw.get("scheduler", "local" if kind == "dask" else None)
    if kind == "local" and scheduler is not None:
        problems.add("executor.scheduler", "a scheduler needs type: dask")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        problems.add("executor.scheduler", f"{scheduler!r} is not an address or local")
    n_workers = raw.get("n_workers")
    if n_workers is not None:
        try:
            n_workers = _positive_int(n_workers)
        except ValueError:
            problems.add("executor.n_workers", f"{n_workers!r} is not a positive integer")
    memory = raw.get("memory_limit_gb", 0.0)
    try:
        memory = _non_negative(memory)
    except (ValueError, TypeError):
        problems.add("executor.memory_limit_gb", f"{memory!r} is not a non-negative number of GB")
        memory = 0.0
    if scheduler not in (None, "local") and (n_workers is not None or memory):
        problems.add("executor", "n_workers and memory_limit_gb describe a LocalCluster "
                                 "(scheduler: local); an existing scheduler has its own workers")
    return ExecutorSpec(kind, scheduler, n_workers, memory)


def _blocks(raw, name, parse, problems, base) -> tuple:
    blocks = raw.get(name, [])
    if isinstance(blocks, dict):
        blocks = [blocks]
    if not isinstance(blocks, list):
        problems.add(name, f"expected a list of {name} blocks")
        return ()
    return tuple(b for i, blk in enumerate(blocks)
                 if (b := parse(blk, f"{name}[{i}]", problems, base)) is not None)


def _fluxscale_block(raw, key: str, problems: _Problems, base: str, produced=frozenset()
                     ) -> FluxscaleBlock | None:
    if not isinstance(raw, dict):
        problems.add(key, "expected a mapping")
        return None
    for unknown in sorted(set(raw) - _FLUXSCALE_KEYS):
        problems.add(f"{key}.{unknown}", "unknown key")
    required = ("reference_table", "reference_field", "transfer_table", "transfer_field", "output")
    missing = [r for r in required if r not in raw]
    for name in missing:
        problems.add(f"{key}.{name}", "required key is missing")
    if missing:
        return None
    before = len(problems.lines)
    paths = {}
    for name in ("reference_table", "transfer_table", "output"):
        value = raw[name]
        if not isinstance(value, str) or not value.strip():
            problems.add(f"{key}.{name}", f"{value!r} is not a path")
            continue
        paths[name] = _resolve_path(base, value)
        if name != "output" and not os.path.exists(paths[name]) and paths[name] not in produced:
            problems.add(f"{key}.{name}", f"{value}: no such file")
    if paths.get("output") in (paths.get("reference_table"), paths.get("transfer_table")):
        problems.add(f"{key}.output", "must be a new file: the input tables are never modified")
    transfer = tuple(str(f) for f in _as_list(raw["transfer_field"]))
    if not transfer or any(not f.strip() for f in transfer):
        problems.add(f"{key}.transfer_field", f"{raw['transfer_field']!r} is not a list of fields")
    if str(raw["reference_field"]) in transfer:
        problems.add(f"{key}.transfer_field", f"{raw['reference_field']} is the reference field")
    jones_type = raw.get("jones_type", "G")
    if jones_type != "G":
        problems.add(f"{key}.jones_type", f"{jones_type!r}: the flux scale is transferred with "
                                          "G amplitudes (G)")
    sigma = raw.get("amp_outlier_sigma", 5.0)
    try:
        sigma = _positive(sigma)
    except (ValueError, TypeError):
        problems.add(f"{key}.amp_outlier_sigma", f"{sigma!r} is not a positive number")
    model = raw.get("model_flux_jy", 1.0)
    model = model if isinstance(model, dict) else {f: model for f in transfer}
    for name, value in list(model.items()):
        try:
            model[name] = _positive(value)
        except (ValueError, TypeError):
            problems.add(f"{key}.model_flux_jy", f"{value!r} is not a positive flux density (Jy)")
    for name in transfer:
        model.setdefault(name, 1.0)
    catalog = _catalog(raw.get("catalog", {}), transfer, f"{key}.catalog", problems)
    if len(problems.lines) > before:
        return None
    return FluxscaleBlock(paths["reference_table"], str(raw["reference_field"]),
                          paths["transfer_table"], transfer, paths["output"], jones_type,
                          raw.get("spw"), model, sigma, catalog)


def _check_appends(raw_blocks, blocks, problems) -> None:
    """Blocks writing one output append to it: a field scaled twice into it is an error."""
    if len(blocks) != len(raw_blocks or ()):
        return  # some block is already reported
    scaled: dict[tuple[str, str], int] = {}
    for i, block in enumerate(blocks):
        for name in block.transfer_fields:
            if (block.output, name) in scaled:
                problems.add(f"fluxscale[{i}].transfer_field",
                             f"{name} is already scaled into {os.path.basename(block.output)} by "
                             f"fluxscale[{scaled[block.output, name]}] (outputs are appended to, "
                             "never overwritten)")
            scaled.setdefault((block.output, name), i)


def _catalog(value, transfer, key, problems) -> dict:
    """{field: {flux_jy, spix (0), ref_freq (Hz or `1.4GHz`)}} -> {field: CatalogFlux}."""
    if not isinstance(value, dict):
        problems.add(key, "expected a mapping of field name to {flux_jy, spix, ref_freq}")
        return {}
    out = {}
    for name, entry in value.items():
        where = f"{key}.{name}"
        if str(name) not in transfer:
            problems.add(where, "not a transfer field of this block")
            continue
        if not isinstance(entry, dict) or "flux_jy" not in entry or "ref_freq" not in entry:
            problems.add(where, "expected {flux_jy, spix, ref_freq}")
            continue
        try:
            out[str(name)] = CatalogFlux(_positive(entry["flux_jy"]),
                                         float(entry.get("spix", 0.0)),
                                         parse_frequency(entry["ref_freq"]))
        except (ValueError, TypeError):
            problems.add(where, f"{entry!r}: flux_jy and ref_freq must be positive, spix a number")
    return out


def _apply_block(raw, key: str, problems: _Problems, base: str, produced=frozenset()
                 ) -> ApplyBlock | None:
    if not isinstance(raw, dict):
        problems.add(key, "expected a mapping")
        return None
    for unknown in sorted(set(raw) - _APPLY_KEYS):
        problems.add(f"{key}.{unknown}", "unknown key")
    missing = [r for r in ("ms", "target_field", "jones", "tables") if r not in raw]
    for required in missing:
        problems.add(f"{key}.{required}", "required key is missing")
    if missing:
        return None
    before = len(problems.lines)
    terms = _external(raw, key, problems, base, produced)
    if not _as_list(raw["tables"]):
        problems.add(f"{key}.tables", "no tables to apply")
    for target in _as_list(raw["target_field"]):
        if isinstance(target, bool) or not isinstance(target, (str, int)) or not str(target).strip():
            problems.add(f"{key}.target_field", f"{target!r} is not a field name or id")
    output_col = raw.get("output_col", "CORRECTED_DATA")
    try:
        output_col = _column(output_col)
        if output_col in ("DATA", "MODEL_DATA"):
            problems.add(f"{key}.output_col", f"{output_col} is never written: use another "
                                              "column such as CORRECTED_DATA")
    except ValueError:
        problems.add(f"{key}.output_col", f"{output_col!r} is not a column name")
    spwmap = raw.get("spwmap", [])
    if not isinstance(spwmap, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                               and v >= 0 for v in spwmap):
        problems.add(f"{key}.spwmap", f"{spwmap!r} is not a list of SPW ids")
        spwmap = []
    scalars = {}
    with_pol = any(t.jones in POL_TYPES for t in terms)  # then P is applied unless told not
    for name, default, parse, what in (
            ("apply_parang", with_pol, _boolean, "true or false"),
            ("memory_limit_gb", 0.0, _non_negative, "a non-negative number of GB (0 = auto)")):
        value = raw.get(name, default)
        try:
            scalars[name] = parse(value)
        except (ValueError, TypeError):
            problems.add(f"{key}.{name}", f"{value!r} is not {what}")
    if not isinstance(raw["ms"], str) or not raw["ms"].strip():
        problems.add(f"{key}.ms", f"{raw['ms']!r} is not a path")
    if len(problems.lines) > before:
        return None
    return ApplyBlock(ms=_resolve_path(base, raw["ms"]), output_col=output_col,
                      target_fields=tuple(_as_list(raw["target_field"])), spw=raw.get("spw"),
                      scans=raw.get("scans"), terms=terms, spwmap=tuple(spwmap), **scalars)


def _resolve_path(base: str, value: str) -> str:
    return value if os.path.isabs(value) else os.path.normpath(os.path.join(base, value))


def _solve_block(raw, key: str, problems: _Problems, base: str, produced=frozenset()
                 ) -> SolveBlock | None:
    if not isinstance(raw, dict):
        problems.add(key, "expected a mapping")
        return None
    for unknown in sorted(set(raw) - _SOLVE_KEYS):
        problems.add(f"{key}.{unknown}", "unknown key")
    for required in ("ms", "output", "jones", "field"):
        if required not in raw:
            problems.add(f"{key}.{required}", "required key is missing")
    if any(r not in raw for r in ("ms", "output", "jones", "field")):
        return None

    jones = _as_list(raw["jones"])
    n = len(jones)
    for i, j in enumerate(jones):
        if j not in JONES_TYPES:
            problems.add(f"{key}.jones[{i}]", f"{j!r} is not a Jones type this version solves "
                                               f"({', '.join(JONES_TYPES)})")
    if n == 0:
        problems.add(f"{key}.jones", "no steps")
        return None

    def per_step(name, default, parse, what):
        values = _per_step(raw, name, default, n, f"{key}.{name}", problems)
        out = []
        for i, v in enumerate(values):
            try:
                out.append(parse(v))
            except (ValueError, TypeError):
                problems.add(f"{key}.{name}[{i}]", f"{v!r} is not {what}")
                out.append(None)
        return out

    time_int = per_step("time_interval", "inf", parse_time_interval, "a time interval "
                        "(inf, int, 120s, 5min, or seconds)")
    freq_int = per_step("freq_interval", "full", parse_freq_interval, "a frequency interval "
                        "(full, a number of channels, or a width such as 4MHz)")
    phase_only = per_step("phase_only", False, _boolean, "true or false")
    interp = per_step("preapply_time_interp", "linear", lambda v: _choice(v, TIME_INTERPS),
                      f"one of {', '.join(TIME_INTERPS)}")
    min_snr = per_step("min_snr", 3.0, _non_negative, "a non-negative number")
    fields = _fields(raw["field"], n, f"{key}.field", problems)
    scans = _scans(raw.get("scans"), fields, f"{key}.scans", problems)
    spws = _per_step(raw, "step_spw", None, n, f"{key}.step_spw", problems)
    for i, j in enumerate(jones):
        if j in ("K", "Kcross") and freq_int[i] is not None and not freq_int[i].full:
            problems.add(f"{key}.freq_interval[{i}]", f"{j} solves one delay per SPW: use full")
        if j in ("K", "Kcross", "Xf") and phase_only[i]:
            problems.add(f"{key}.phase_only[{i}]", f"{j} has no amplitude: phase_only does not "
                                                   "apply")
        if j == "D" and phase_only[i]:
            problems.add(f"{key}.phase_only[{i}]", "D leakages are complex: phase_only does not "
                                                   "apply")

    external = _external(raw.get("external_preapply"), f"{key}.external_preapply", problems, base,
                         produced)
    model_col = raw.get("model_col", "MODEL_DATA")
    try:
        model_col = _column(model_col)
    except ValueError:
        problems.add(f"{key}.model_col", f"{model_col!r} is not a column name")
        model_col = "MODEL_DATA"
    models = _models(raw.get("model"), fields, model_col, f"{key}.model", problems)
    # D, Xf and Kcross (solved or pre-applied), and models that may be polarised, need the
    # model turned by P: on by default
    with_pol = (any(j in POL_TYPES for j in jones) or any(e.jones in POL_TYPES for e in external)
                or any(m.turns_with_parallactic_angle for ms in models for m in ms))
    scalars = {"model_col": model_col}
    for name, default, parse, what in (
            ("data_col", "DATA", _column, "a column name"),
            ("apply_parang", with_pol, _boolean, "true or false"),
            ("memory_limit_gb", 0.0, _non_negative, "a non-negative number of GB (0 = auto)"),
            ("rfi_threshold", 5.0, _non_negative, "a non-negative number (0 = no flagging)"),
            ("max_iter", 100, _positive_int, "a positive integer"),
            ("tol", 1e-10, _positive, "a positive number")):
        value = raw.get(name, default)
        try:
            scalars[name] = parse(value)
        except (ValueError, TypeError):
            problems.add(f"{key}.{name}", f"{value!r} is not {what}")
    ref_ant = raw.get("ref_ant", "auto")
    ref_ants = tuple(_as_list(ref_ant))
    if not ref_ants or any(isinstance(r, bool) or not isinstance(r, (int, str)) for r in ref_ants):
        problems.add(f"{key}.ref_ant", f"{ref_ant!r} is not an antenna name, id, list or auto")
    for name in ("ms", "output"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            problems.add(f"{key}.{name}", f"{raw[name]!r} is not a path")
    if problems.lines:
        return None
    steps = tuple(SolveStep(jones[i], fields[i], scans[i], spws[i], time_int[i], freq_int[i],
                            phase_only[i], interp[i], min_snr[i], models[i]) for i in range(n))
    return SolveBlock(ms=_resolve_path(base, raw["ms"]), output=_resolve_path(base, raw["output"]),
                      ref_ant=ref_ants, steps=steps, external=external, **scalars)


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _per_step(raw, name, default, n, key, problems) -> list:
    """A scalar applies to every step; a list must have one entry per step."""
    value = raw.get(name, default)
    if not isinstance(value, list):
        return [value] * n
    if len(value) != n:
        problems.add(key, f"has {len(value)} entries but jones has {n} steps")
        return [default] * n
    return value


def _fields(value, n, key, problems) -> list[tuple]:
    """`A` -> every step [A]; [A, B] with one entry per step -> step i gets [entry i];
    [[A], [A, B]] -> per step; a flat list with one step -> that step's fields."""
    if not isinstance(value, list):
        out = [(value,)] * n
    elif len(value) == n:
        out = [tuple(_as_list(v)) for v in value]
    elif n == 1:
        out = [tuple(value)]
    else:
        problems.add(key, f"has {len(value)} entries but jones has {n} steps")
        return [()] * n
    for i, names in enumerate(out):
        if not names:
            problems.add(f"{key}[{i}]", "no field given")
        for name in names:
            if isinstance(name, bool) or not isinstance(name, (int, str)):
                problems.add(f"{key}[{i}]", f"{name!r} is not a field name or id")
    return out


def _scans(value, fields, key, problems) -> list[tuple]:
    """Scan specs per step per field (None = all scans)."""
    n = len(fields)
    if value is None:
        return [(None,) * len(f) for f in fields]
    per_step = value if isinstance(value, list) and len(value) == n else [value] * n
    if isinstance(value, list) and len(value) != n and n > 1:
        problems.add(key, f"has {len(value)} entries but jones has {n} steps")
        return [(None,) * len(f) for f in fields]
    out = []
    for i, (spec, names) in enumerate(zip(per_step, fields)):
        if len(names) == 1:
            out.append((spec,))
        elif isinstance(spec, list) and len(spec) == len(names):
            out.append(tuple(spec))
        elif spec is None or not isinstance(spec, list):
            out.append((spec,) * len(names))
        else:
            problems.add(f"{key}[{i}]", f"has {len(spec)} entries but step {i} has "
                                        f"{len(names)} fields")
            out.append((None,) * len(names))
    return out


def _models(value, fields, model_col, key, problems) -> list[tuple[ModelSpec, ...]]:
    """One ModelSpec per field per step. `value`: absent (model_col everywhere); one model for
    every step (a column name, or a mapping of MODEL_KEYS); a list with one entry per step
    (null: model_col); an entry may also map field names to models (fields not named use
    model_col)."""
    n = len(fields)
    default = ModelSpec(column=model_col)
    if value is None:
        return [(default,) * len(f) for f in fields]
    if isinstance(value, list):
        if len(value) != n:
            problems.add(key, f"has {len(value)} entries but jones has {n} steps")
            return [(default,) * len(f) for f in fields]
        per_step = [(v, f"{key}[{i}]", fields[i], f"step {i}") for i, v in enumerate(value)]
    else:  # one entry for the block: a field mapping may name the fields of any step
        every = tuple(dict.fromkeys(f for names in fields for f in names))
        per_step = [(value, key, every, "any step")] * n
    parsed: dict = {}  # (key path, entry id) -> ModelSpec: each entry parsed (and reported) once

    def spec(entry, where):
        if (where, id(entry)) not in parsed:
            parsed[where, id(entry)] = _model(entry, where, problems)
        return parsed[where, id(entry)]

    out = []
    for (entry, where, allowed, scope), names in zip(per_step, fields):
        if entry is None:  # this step: model_col
            out.append((default,) * len(names))
        elif isinstance(entry, dict) and entry and not set(entry) & MODEL_KEYS:
            known = {str(f) for f in allowed}
            for name in entry:
                if str(name) not in known and (where, name) not in parsed:
                    parsed[where, name] = default
                    problems.add(f"{where}.{name}", f"field {name} is not a field of {scope} "
                                                    f"({', '.join(sorted(known))})")
            out.append(tuple(spec(entry[f], f"{where}.{f}") if f in entry else default
                             for f in names))
        else:
            out.append((spec(entry, where),) * len(names))
    return out


def model_spec(value, key: str) -> ModelSpec:
    """One model (as a `model:` entry of a solve block), or InputError naming `key`."""
    problems = _Problems("model")
    spec = _model(value, key, problems)
    if problems.lines:
        raise InputError("; ".join(line.split(": ", 1)[1] for line in problems.lines))
    return spec


def _model(value, key, problems) -> ModelSpec:
    """One model: a column name, {standard, polarised} or a point source {flux_jy or stokes,
    spix, ref_freq, offset}."""
    if isinstance(value, str):
        try:
            return ModelSpec(column=_column(value))
        except ValueError:
            problems.add(key, f"{value!r} is not a column name, a standard or a point source")
            return ModelSpec(column="MODEL_DATA")
    if not isinstance(value, dict):
        problems.add(key, "expected a column name or a mapping (standard, or flux_jy/stokes, "
                          "spix, ref_freq, offset)")
        return ModelSpec(column="MODEL_DATA")
    for unknown in sorted(set(value) - MODEL_KEYS):
        problems.add(f"{key}.{unknown}", f"unknown key (a model has {', '.join(sorted(MODEL_KEYS))})")
    before = len(problems.lines)
    if "standard" in value:
        for other in sorted(set(value) & {"flux_jy", "stokes", "spix", "ref_freq", "offset"}):
            problems.add(f"{key}.{other}", "a standard gives the flux density itself; give "
                                           "either standard or a point source")
        try:
            standard = check_standard(value["standard"])
        except InputError as exc:
            problems.add(f"{key}.standard", str(exc))
            standard = None
        polarised = value.get("polarised", True)
        if not isinstance(polarised, bool):
            problems.add(f"{key}.polarised", f"{polarised!r} is not true or false")
        if len(problems.lines) > before:
            return ModelSpec(column="MODEL_DATA")
        return ModelSpec(standard=standard, polarised=polarised)
    if "polarised" in value:
        problems.add(f"{key}.polarised", "applies to a standard; give a point source's "
                                         "polarisation as stokes")
    if ("flux_jy" in value) == ("stokes" in value):
        problems.add(key, "give a standard, or a point source's flux_jy (Stokes I) or stokes "
                          "[I, Q, U, V] (one of them)")
        return ModelSpec(column="MODEL_DATA")
    stokes = (value["flux_jy"], 0.0, 0.0, 0.0) if "flux_jy" in value else value["stokes"]
    name = "flux_jy" if "flux_jy" in value else "stokes"
    if (not isinstance(stokes, (list, tuple)) or len(stokes) != 4
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in stokes)):
        problems.add(f"{key}.{name}", f"{value[name]!r} is not "
                                      + ("a flux density (Jy)" if name == "flux_jy"
                                         else "a list of four numbers [I, Q, U, V] (Jy)"))
        return ModelSpec(column="MODEL_DATA")
    stokes = tuple(float(v) for v in stokes)
    if stokes[0] <= 0 or math.hypot(*stokes[1:]) > stokes[0]:
        problems.add(f"{key}.{name}", f"{value[name]!r}: I must be positive and at least "
                                      "sqrt(Q^2 + U^2 + V^2)")
    spix = value.get("spix", 0.0)
    if isinstance(spix, bool) or not isinstance(spix, (int, float)):
        problems.add(f"{key}.spix", f"{spix!r} is not a spectral index")
        spix = 0.0
    ref_freq = 1e9
    if "ref_freq" in value:
        try:
            ref_freq = parse_frequency(value["ref_freq"])
        except (ValueError, TypeError):
            problems.add(f"{key}.ref_freq", f"{value['ref_freq']!r} is not a frequency "
                                            "(Hz, or such as 1.4GHz)")
    elif spix:
        problems.add(f"{key}.ref_freq", "a spectral index needs the frequency of the flux "
                                        "density (ref_freq, e.g. 1.4GHz)")
    offset = value.get("offset", (0.0, 0.0))
    if (not isinstance(offset, (list, tuple)) or len(offset) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in offset)):
        problems.add(f"{key}.offset", f"{offset!r} is not [east, north] in arcsec")
        offset = (0.0, 0.0)
    if len(problems.lines) > before:
        return ModelSpec(column="MODEL_DATA")
    return ModelSpec(stokes=stokes, spix=float(spix), ref_freq=ref_freq,
                     offset=(float(offset[0]), float(offset[1])))


def _external(value, key, problems, base, produced=frozenset()) -> tuple[ExternalTable, ...]:
    """Parallel lists tables, jones, field_select, time_interp, solution_field (the
    external_preapply mapping of a solve block, or an apply block itself). Tables in
    `produced` (outputs of this config's solve blocks) need not exist yet."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.add(key, "expected a mapping with tables, jones, field_select, time_interp")
        return ()
    if not key.startswith("apply"):
        for unknown in sorted(set(value) - _EXTERNAL_KEYS):
            problems.add(f"{key}.{unknown}", "unknown key")
    if "tables" not in value or "jones" not in value:
        problems.add(key, "needs tables and jones")
        return ()
    tables = _as_list(value["tables"])
    n = len(tables)
    lists = {}
    for name, default in (("jones", None), ("field_select", "nearest_time"),
                          ("time_interp", "linear"), ("solution_field", None)):
        v = value.get(name, default)
        v = v if isinstance(v, list) else [v] * n
        if len(v) != n:
            problems.add(f"{key}.{name}", f"has {len(v)} entries but tables has {n}")
            return ()
        lists[name] = v
    out = []
    for i, table in enumerate(tables):
        ok = True
        if not isinstance(table, str):
            problems.add(f"{key}.tables[{i}]", f"{table!r} is not a path")
            continue
        path = _resolve_path(base, table)
        if not os.path.exists(path) and path not in produced:
            problems.add(f"{key}.tables[{i}]", f"{table}: no such file")
            ok = False
        if lists["jones"][i] not in JONES_TYPES:
            problems.add(f"{key}.jones[{i}]", f"{lists['jones'][i]!r} is not a Jones type "
                                              f"({', '.join(JONES_TYPES)})")
            ok = False
        if lists["field_select"][i] not in FIELD_SELECTS:
            problems.add(f"{key}.field_select[{i}]", f"{lists['field_select'][i]!r} is not one "
                                                     f"of {', '.join(FIELD_SELECTS)}")
            ok = False
        if lists["time_interp"][i] not in TIME_INTERPS:
            problems.add(f"{key}.time_interp[{i}]", f"{lists['time_interp'][i]!r} is not one of "
                                                    f"{', '.join(TIME_INTERPS)}")
            ok = False
        if lists["field_select"][i] == "pinned" and lists["solution_field"][i] is None:
            problems.add(f"{key}.solution_field[{i}]", "field_select pinned needs a solution_field")
            ok = False
        if ok:
            out.append(ExternalTable(path, lists["jones"][i], lists["field_select"][i],
                                     lists["time_interp"][i], lists["solution_field"][i]))
    return tuple(out)


def _boolean(v) -> bool:
    if not isinstance(v, bool):
        raise ValueError
    return v


def _choice(v, choices) -> str:
    if v not in choices:
        raise ValueError
    return v


def _non_negative(v) -> float:
    """A number >= 0; strings such as `1e-10` (which YAML 1.1 leaves as text) are accepted."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise ValueError
    v = float(v)
    if not v >= 0 or math.isinf(v):
        raise ValueError
    return v


def _positive(v) -> float:
    if _non_negative(v) <= 0:
        raise ValueError
    return float(v)


def _positive_int(v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError
    return v


def _column(v) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", v):
        raise ValueError
    return v
