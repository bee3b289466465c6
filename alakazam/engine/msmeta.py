"""Metadata of a Measurement Set: antennas, fields, scans, SPWs, correlations, feeds.

Everything is read once, with whole-column reads (no Python loop over rows), into small frozen
dataclasses. Times are MJD seconds (UTC), frequencies Hz, angles radians, positions ITRF metres.
"""

from __future__ import annotations

from datetime import datetime, timezone

import os
from dataclasses import dataclass

import numpy as np

from alakazam.engine.errors import InputError

#: CORR_TYPE codes (casacore Stokes enum) of the feed-basis correlations we handle.
CORR_NAMES = {5: "RR", 6: "RL", 7: "LR", 8: "LL", 9: "XX", 10: "XY", 11: "YX", 12: "YY"}
#: Position of each correlation in the flattened 2x2 coherency matrix [[11, 12], [21, 22]].
CORR_SLOT = {5: 0, 6: 1, 7: 2, 8: 3, 9: 0, 10: 1, 11: 2, 12: 3}

MJD_UNIX_OFFSET_S = 3506716800.0  # seconds from the MJD epoch (1858-11-17) to 1970-01-01


def utc(mjd_seconds: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """MJD seconds -> UTC string."""
    return datetime.fromtimestamp(mjd_seconds - MJD_UNIX_OFFSET_S, tz=timezone.utc).strftime(fmt)

_REQUIRED_SUBTABLES = ("ANTENNA", "DATA_DESCRIPTION", "FIELD", "POLARIZATION", "SPECTRAL_WINDOW")


@dataclass(frozen=True)
class Antennas:
    """The ANTENNA table. names, stations: (n_ant,) str; positions: (n_ant, 3) ITRF m;
    diameters: (n_ant,) m; has_data: (n_ant,) bool, True where the antenna appears in any
    cross-correlation row of the main table."""

    names: tuple[str, ...]
    stations: tuple[str, ...]
    positions: np.ndarray
    diameters: np.ndarray
    has_data: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class Field:
    """One FIELD row. ra, dec: phase centre in radians, J2000 (converted if the MS used
    another frame; `frame` keeps the frame the MS stored)."""

    id: int
    name: str
    ra: float
    dec: float
    frame: str
    n_rows: int


@dataclass(frozen=True)
class Scan:
    """One scan: its fields, time span (MJD s, edges of the first and last integration),
    intents from the STATE table (empty when the MS has none), and SPWs."""

    number: int
    field_ids: tuple[int, ...]
    start: float
    end: float
    intents: tuple[str, ...]
    spw_ids: tuple[int, ...]
    n_rows: int


@dataclass(frozen=True)
class Spw:
    """One SPECTRAL_WINDOW row. freqs, widths: (n_chan,) Hz, in the MS's own channel order
    (which may be descending); ref_freq: REFERENCE_FREQUENCY in Hz."""

    id: int
    name: str
    freqs: np.ndarray
    widths: np.ndarray
    ref_freq: float

    @property
    def n_chan(self) -> int:
        return len(self.freqs)


@dataclass(frozen=True)
class Polarization:
    """One POLARIZATION row. corr_types: CORR_TYPE codes in stored order; slots: (n_corr,)
    index of each stored correlation in the flattened 2x2 matrix; basis: LINEAR or CIRCULAR."""

    id: int
    corr_types: tuple[int, ...]
    basis: str
    slots: tuple[int, ...]

    @property
    def corr_names(self) -> tuple[str, ...]:
        return tuple(CORR_NAMES[c] for c in self.corr_types)

    @property
    def full(self) -> bool:
        """True when all four correlations (both parallel and both cross hands) are present."""
        return sorted(self.slots) == [0, 1, 2, 3]


@dataclass(frozen=True)
class DataDescription:
    id: int
    spw_id: int
    pol_id: int


@dataclass(frozen=True)
class MSMeta:
    """Everything about an MS except its visibilities.

    receptor_angles: (n_ant, 2) rad from the FEED table (zeros where it has no row).
    integration_time: s, the median spacing of TIME within scans (INTERVAL can disagree).
    """

    path: str
    telescope: str
    observer: str
    antennas: Antennas
    fields: tuple[Field, ...]
    scans: tuple[Scan, ...]
    spws: tuple[Spw, ...]
    polarizations: tuple[Polarization, ...]
    data_descriptions: tuple[DataDescription, ...]
    receptor_angles: np.ndarray
    integration_time: float
    time_range: tuple[float, float]
    n_rows: int
    columns: tuple[str, ...]

    @property
    def basis(self) -> str:
        """Feed basis of the data, LINEAR or CIRCULAR."""
        used = {dd.pol_id for dd in self.data_descriptions}
        bases = {self.polarizations[p].basis for p in used}
        if len(bases) != 1:
            raise InputError(f"{self.path}: mixed feed bases {sorted(bases)} in POLARIZATION")
        return bases.pop()

    def ddids_of_spw(self, spw_id: int) -> tuple[int, ...]:
        return tuple(dd.id for dd in self.data_descriptions if dd.spw_id == spw_id)


def open_table(path: str, readonly: bool = True):
    """Open a Measurement Set's main table, turning every failure into a one-line InputError."""
    from casacore import tables

    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    if not os.path.isdir(path) or not os.path.exists(os.path.join(path, "table.dat")):
        raise InputError(f"{path}: not a Measurement Set (no casacore table there)")
    try:
        tab = tables.table(path, readonly=readonly, ack=False)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot open as a casacore table ({_first_line(exc)})") from None
    keywords = tab.getkeywords()
    missing = [s for s in _REQUIRED_SUBTABLES if s not in keywords]
    if missing:
        tab.close()
        raise InputError(f"{path}: not a Measurement Set (missing subtables {', '.join(missing)})")
    return tab


def open_subtable(path: str, name: str):
    from casacore import tables

    try:
        return tables.table(os.path.join(path, name), ack=False)
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot open subtable {name} ({_first_line(exc)})") from None


def read_meta(path: str) -> MSMeta:
    """Read the metadata of the MS at `path`."""
    path = os.path.normpath(path)
    main = open_table(path)
    try:
        columns = tuple(main.colnames())
        n_rows = main.nrows()
        cols = {}
        for name in ("TIME", "INTERVAL", "SCAN_NUMBER", "FIELD_ID", "DATA_DESC_ID", "STATE_ID",
                     "ANTENNA1", "ANTENNA2"):
            if name not in columns:
                raise InputError(f"{path}: column {name} missing from the main table")
            cols[name] = main.getcol(name) if n_rows else np.zeros(0)
    finally:
        main.close()

    antennas = _read_antennas(path, cols["ANTENNA1"], cols["ANTENNA2"])
    spws = _read_spws(path)
    pols = _read_polarizations(path)
    ddescs = _read_data_descriptions(path)
    fields = _read_fields(path, cols["FIELD_ID"])
    intents_of_state = _read_state_intents(path)
    scans = _scans(cols, ddescs, intents_of_state)
    telescope, observer = _read_observation(path)
    times = cols["TIME"]
    time_range = (float(times.min()), float(times.max())) if n_rows else (0.0, 0.0)
    return MSMeta(
        path=path,
        telescope=telescope,
        observer=observer,
        antennas=antennas,
        fields=fields,
        scans=scans,
        spws=spws,
        polarizations=pols,
        data_descriptions=ddescs,
        receptor_angles=_read_receptor_angles(path, len(antennas)),
        integration_time=_integration_time(cols),
        time_range=time_range,
        n_rows=n_rows,
        columns=columns,
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_antennas(path, ant1, ant2) -> Antennas:
    tab = open_subtable(path, "ANTENNA")
    with tab:
        n = tab.nrows()
        names = tuple(str(s) for s in tab.getcol("NAME")) if n else ()
        stations = tuple(str(s) for s in tab.getcol("STATION")) if n else ()
        positions = tab.getcol("POSITION") if n else np.zeros((0, 3))
        diameters = tab.getcol("DISH_DIAMETER") if n else np.zeros(0)
    # Antennas with empty names are given their index so that every antenna can be named.
    names = tuple(name if name.strip() else f"ANT{i}" for i, name in enumerate(names))
    cross = ant1 != ant2
    has_data = np.zeros(n, dtype=bool)
    has_data[np.unique(np.concatenate([ant1[cross], ant2[cross]])).astype(int)] = True
    return Antennas(names, stations, np.asarray(positions, float), np.asarray(diameters, float),
                    has_data)


def _read_spws(path) -> tuple[Spw, ...]:
    tab = open_subtable(path, "SPECTRAL_WINDOW")
    with tab:
        n = tab.nrows()
        names = tab.getcol("NAME") if n else []
        ref = tab.getcol("REF_FREQUENCY") if n else []
        # CHAN_FREQ may have a different number of channels per row: read row by row (few rows).
        freqs = [np.asarray(tab.getcell("CHAN_FREQ", i), float) for i in range(n)]
        widths = [np.asarray(tab.getcell("CHAN_WIDTH", i), float) for i in range(n)]
    return tuple(Spw(i, str(names[i]), freqs[i], widths[i], float(ref[i])) for i in range(n))


def _read_polarizations(path) -> tuple[Polarization, ...]:
    tab = open_subtable(path, "POLARIZATION")
    out = []
    with tab:
        for i in range(tab.nrows()):
            corr = tuple(int(c) for c in tab.getcell("CORR_TYPE", i))
            unknown = [c for c in corr if c not in CORR_NAMES]
            if unknown:
                raise InputError(f"{path}: POLARIZATION row {i} has correlation types {unknown} "
                                 "that are not feed-basis products (RR..LL or XX..YY)")
            circular = all(5 <= c <= 8 for c in corr)
            linear = all(9 <= c <= 12 for c in corr)
            if not (circular or linear):
                raise InputError(f"{path}: POLARIZATION row {i} mixes linear and circular "
                                 f"correlations {[CORR_NAMES[c] for c in corr]}")
            out.append(Polarization(i, corr, "CIRCULAR" if circular else "LINEAR",
                                    tuple(CORR_SLOT[c] for c in corr)))
    return tuple(out)


def _read_data_descriptions(path) -> tuple[DataDescription, ...]:
    tab = open_subtable(path, "DATA_DESCRIPTION")
    with tab:
        n = tab.nrows()
        spw = tab.getcol("SPECTRAL_WINDOW_ID") if n else []
        pol = tab.getcol("POLARIZATION_ID") if n else []
    return tuple(DataDescription(i, int(spw[i]), int(pol[i])) for i in range(n))


def _read_fields(path, field_ids) -> tuple[Field, ...]:
    tab = open_subtable(path, "FIELD")
    with tab:
        n = tab.nrows()
        if n == 0:
            return ()
        names = tab.getcol("NAME")
        phase_dir = tab.getcol("PHASE_DIR")  # (n_field, n_poly+1, 2) rad
        frames = _direction_frames(tab, "PHASE_DIR", n)
    counts = np.bincount(field_ids.astype(int), minlength=n) if len(field_ids) else np.zeros(n, int)
    fields = []
    for i in range(n):
        ra, dec = float(phase_dir[i, 0, 0]), float(phase_dir[i, 0, 1])
        if frames[i] != "J2000":
            ra, dec = _to_j2000(path, frames[i], ra, dec)
        fields.append(Field(i, str(names[i]), ra % (2 * np.pi), dec, frames[i], int(counts[i])))
    return tuple(fields)


def _direction_frames(tab, column, n) -> list[str]:
    """The reference frame of each row of a direction column: a fixed MEASINFO Ref, or a
    variable one (TabRefTypes/TabRefCodes with a per-row reference column)."""
    info = tab.getcolkeywords(column).get("MEASINFO", {})
    if "VarRefCol" in info:
        codes = tab.getcol(info["VarRefCol"])
        names = dict(zip(info["TabRefCodes"], info["TabRefTypes"]))
        return [str(names[int(c)]) for c in codes]
    return [str(info.get("Ref", "J2000"))] * n


def _to_j2000(path, frame, ra, dec) -> tuple[float, float]:
    from casacore.measures import measures

    dm = measures()
    try:
        converted = dm.measure(dm.direction(frame, f"{ra}rad", f"{dec}rad"), "J2000")
    except RuntimeError as exc:
        raise InputError(f"{path}: cannot convert field direction from frame {frame} to J2000 "
                         f"({_first_line(exc)})") from None
    return float(converted["m0"]["value"]), float(converted["m1"]["value"])


def _read_state_intents(path) -> list[tuple[str, ...]]:
    if not os.path.exists(os.path.join(path, "STATE")):
        return []
    tab = open_subtable(path, "STATE")
    with tab:
        modes = tab.getcol("OBS_MODE") if tab.nrows() else []
    return [tuple(m.strip() for m in str(mode).split(",") if m.strip()) for mode in modes]


def _read_observation(path) -> tuple[str, str]:
    if not os.path.exists(os.path.join(path, "OBSERVATION")):
        return "", ""
    tab = open_subtable(path, "OBSERVATION")
    with tab:
        if tab.nrows() == 0:
            return "", ""
        return str(tab.getcell("TELESCOPE_NAME", 0)), str(tab.getcell("OBSERVER", 0))


def _read_receptor_angles(path, n_ant) -> np.ndarray:
    angles = np.zeros((n_ant, 2))
    if not os.path.exists(os.path.join(path, "FEED")):
        return angles
    tab = open_subtable(path, "FEED")
    with tab:
        n = tab.nrows()
        if n == 0:
            return angles
        ant = tab.getcol("ANTENNA_ID")
        for row in range(n):  # one row per antenna (and feed/SPW): small
            value = np.asarray(tab.getcell("RECEPTOR_ANGLE", row), float)
            if 0 <= ant[row] < n_ant and value.size >= 2:
                angles[ant[row]] = value[:2]
    return angles


def _scans(cols, ddescs, intents_of_state) -> tuple[Scan, ...]:
    scan = cols["SCAN_NUMBER"].astype(np.int64)
    if scan.size == 0:
        return ()
    numbers, inverse, counts = np.unique(scan, return_inverse=True, return_counts=True)
    half = 0.5 * cols["INTERVAL"]
    start = np.full(len(numbers), np.inf)
    end = np.full(len(numbers), -np.inf)
    np.minimum.at(start, inverse, cols["TIME"] - half)
    np.maximum.at(end, inverse, cols["TIME"] + half)
    field_pairs = _pairs(inverse, cols["FIELD_ID"])
    state_pairs = _pairs(inverse, cols["STATE_ID"])
    dd_pairs = _pairs(inverse, cols["DATA_DESC_ID"])
    spw_of_dd = {dd.id: dd.spw_id for dd in ddescs}
    out = []
    for i, number in enumerate(numbers):  # one iteration per scan
        intents: list[str] = []
        for state in state_pairs.get(i, ()):
            if 0 <= state < len(intents_of_state):
                intents += [m for m in intents_of_state[state] if m not in intents]
        spws = sorted({spw_of_dd[d] for d in dd_pairs.get(i, ()) if d in spw_of_dd})
        out.append(Scan(int(number), tuple(field_pairs.get(i, ())), float(start[i]),
                        float(end[i]), tuple(intents), tuple(spws), int(counts[i])))
    return tuple(out)


def _pairs(group, values) -> dict[int, list[int]]:
    """Distinct values per group index, from whole columns: {group: sorted values}."""
    values = values.astype(np.int64)
    low = values.min()
    width = int(values.max() - low) + 1
    keys = np.unique(group.astype(np.int64) * width + (values - low))
    out: dict[int, list[int]] = {}
    for g, v in zip(keys // width, keys % width + low):  # one iteration per distinct pair
        out.setdefault(int(g), []).append(int(v))
    return out


def _integration_time(cols) -> float:
    """Median spacing of distinct TIME values within scans (INTERVAL may disagree with it)."""
    if cols["TIME"].size == 0:
        return 0.0
    times, first = np.unique(cols["TIME"], return_index=True)
    scans = cols["SCAN_NUMBER"][first]
    steps = np.diff(times)[(scans[1:] == scans[:-1])]
    steps = steps[steps > 0]
    if steps.size:
        return float(np.median(steps))
    return float(np.median(cols["INTERVAL"]))
