"""Reading visibilities for a selection, in time-ordered blocks of one SPW.

Rows are chosen with whole-column numpy masks, sorted by (TIME, ANTENNA1, ANTENNA2) and read
with casacore column reads over the block (no Python loop over rows). Correlations come out in
the canonical order of the 2x2 coherency matrix (11, 12, 21, 22 restricted to those present),
whatever the order of CORR_TYPE in the MS; channels stay in the MS's own order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta, open_table
from alakazam.engine.selection import Selection

DATA_COLUMNS = ("DATA", "MODEL_DATA", "CORRECTED_DATA")
_MIN_RUN = 16  # consecutive rows per read below which a reference-table read is used


@dataclass
class VisBlock:
    """Rows of one SPW (one DATA_DESC_ID) for a run of whole time slots, sorted by time.

    rows, time (MJD s), ant1, ant2, field, scan: (n_row,); uvw: (n_row, 3) m;
    vis: {column: (n_row, n_chan, n_corr) complex64}; flag: (n_row, n_chan, n_corr) bool
    (FLAG or FLAG_ROW); weight: (n_row, n_chan, n_corr) float32; slots: (n_corr,) position of
    each correlation in the flattened 2x2 matrix, ascending.
    """

    spw_id: int
    ddid: int
    slots: tuple[int, ...]
    rows: np.ndarray
    time: np.ndarray
    ant1: np.ndarray
    ant2: np.ndarray
    field: np.ndarray
    scan: np.ndarray
    uvw: np.ndarray
    flag: np.ndarray
    weight: np.ndarray
    vis: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_row(self) -> int:
        return len(self.rows)

    def time_slots(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct times (n_t,) MJD s and each row's index into them (n_row,)."""
        return np.unique(self.time, return_inverse=True)


def to_matrix(vis: np.ndarray, slots) -> np.ndarray:
    """(n_row, n_chan, n_corr) in canonical order -> (n_row, n_chan, 2, 2) of the same dtype,
    absent entries 0; with all four correlations it is a view (writes go through to `vis`)."""
    if tuple(slots) == (0, 1, 2, 3):
        return vis.reshape(vis.shape[:-1] + (2, 2))
    out = np.zeros(vis.shape[:-1] + (4,), dtype=vis.dtype)
    out[..., list(slots)] = vis
    return out.reshape(vis.shape[:-1] + (2, 2))


def from_matrix(mat: np.ndarray, slots) -> np.ndarray:
    """(n_row, n_chan, 2, 2) -> (n_row, n_chan, n_corr) holding the entries at `slots`
    (a view with all four correlations)."""
    flat = mat.reshape(mat.shape[:-2] + (4,))
    if tuple(slots) == (0, 1, 2, 3):
        return flat
    return np.take(flat, list(slots), axis=-1)


def iter_blocks(meta: MSMeta, selection: Selection, columns=("DATA",), max_rows: int = 100_000,
                weights: bool = True):
    """Yield VisBlocks of the selected rows in time order: each chunk of whole time slots
    (at most `max_rows` rows over all SPWs; a time slot with more rows than that is split into
    chunks of rows) is read once and yielded as one block per SPW (DATA_DESC_ID), SPWs in
    ascending order.

    columns: data columns to read (DATA, MODEL_DATA, CORRECTED_DATA); a column absent from the
    MS is an InputError naming it. weights False: WEIGHT(_SPECTRUM) is not read and the
    blocks' weights are a read-only view of ones (for jobs that do not use them, as apply).
    """
    _check_columns(meta, columns)
    tab = open_table(meta.path)
    try:
        if tab.nrows() == 0:
            return
        scalars = _scalars(tab)
        rows = _selected_rows(meta, selection, scalars)
        for chunk in _chunks(scalars["TIME"][rows], max_rows):
            yield from _chunk_blocks(tab, meta, rows[chunk], scalars, columns, weights)
    finally:
        tab.close()


def row_chunks(meta: MSMeta, selection: Selection, max_rows: int) -> list[np.ndarray]:
    """The row numbers of the selection in reading order, cut as iter_blocks cuts them
    (whole time slots, at most max_rows rows): what a task elsewhere reads with read_rows."""
    tab = open_table(meta.path)
    try:
        if tab.nrows() == 0:
            return []
        scalars = _scalars(tab)
    finally:
        tab.close()
    rows = _selected_rows(meta, selection, scalars)
    return [rows[chunk] for chunk in _chunks(scalars["TIME"][rows], max_rows)]


def read_rows(meta: MSMeta, rows: np.ndarray, columns=("DATA",), weights: bool = True
              ) -> list[VisBlock]:
    """The blocks (one per DATA_DESC_ID, ascending) of the rows `rows`, one chunk of
    row_chunks; columns and weights as for iter_blocks."""
    _check_columns(meta, columns)
    tab = open_table(meta.path)
    try:
        return list(_chunk_blocks(tab, meta, rows, _scalars(tab), columns, weights))
    finally:
        tab.close()


def _check_columns(meta: MSMeta, columns) -> None:
    for name in columns:
        if name not in meta.columns:
            present = ", ".join(c for c in meta.columns if c in DATA_COLUMNS)
            raise InputError(f"{meta.path}: column {name} missing from the main table "
                             f"(data columns present: {present})")


def _chunk_blocks(tab, meta, rows, scalars, columns, weights):
    """The blocks of one chunk of rows: one per DATA_DESC_ID, ascending."""
    ddid = scalars["DATA_DESC_ID"][rows]
    for d in np.unique(ddid):
        part = rows[ddid == d]
        yield _block(_row_reader(tab, part), meta, int(d), part, scalars, columns, tab, weights)


def time_slots(meta: MSMeta, selection: Selection) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times (n_t,) MJD s of the selected rows and the scan number at each."""
    tab = open_table(meta.path)
    try:
        if tab.nrows() == 0:
            return np.zeros(0), np.zeros(0, np.int64)
        scalars = _scalars(tab)
    finally:
        tab.close()
    rows = _selected_rows(meta, selection, scalars)
    times, first = np.unique(scalars["TIME"][rows], return_index=True)
    return times, scalars["SCAN_NUMBER"][rows][first].astype(np.int64)


_SCALAR_CACHE: dict = {}


def _scalars(tab) -> dict[str, np.ndarray]:
    """The indexing columns of the main table, cached per table, row count and modification
    time of its scalar-column storage (a run reads them once, not once per solve)."""
    name = tab.name()
    f0 = os.path.join(name, "table.f0")
    key = (name, tab.nrows(), os.path.getmtime(f0) if os.path.exists(f0) else None)
    if key not in _SCALAR_CACHE:
        _SCALAR_CACHE.clear()
        _SCALAR_CACHE[key] = {c: tab.getcol(c) for c in ("TIME", "ANTENNA1", "ANTENNA2",
                                                         "FIELD_ID", "SCAN_NUMBER",
                                                         "DATA_DESC_ID")}
    return _SCALAR_CACHE[key]


def _selected_rows(meta, selection, scalars) -> np.ndarray:
    """Row numbers of the selection, sorted by (TIME, DATA_DESC_ID, ANTENNA1, ANTENNA2)."""
    mask = np.ones(len(scalars["TIME"]), dtype=bool)
    if selection.field_ids is not None:
        mask &= np.isin(scalars["FIELD_ID"], selection.field_ids)
    if selection.scans is not None:
        mask &= np.isin(scalars["SCAN_NUMBER"], selection.scans)
    if not selection.autocorrelations:
        mask &= scalars["ANTENNA1"] != scalars["ANTENNA2"]
    if selection.spw_ids is not None:
        ddids = [d for s in selection.spw_ids for d in meta.ddids_of_spw(s)]
        mask &= np.isin(scalars["DATA_DESC_ID"], ddids)
    rows = np.flatnonzero(mask)
    order = np.lexsort(tuple(scalars[c][rows] for c in ("ANTENNA2", "ANTENNA1", "DATA_DESC_ID",
                                                         "TIME")))
    return rows[order]


def selected_rows(meta: MSMeta, selection: Selection) -> tuple[np.ndarray, int]:
    """Row numbers of a selection in reading order, and the most rows in one time slot."""
    tab = open_table(meta.path)
    try:
        if tab.nrows() == 0:
            return np.zeros(0, np.int64), 0
        scalars = _scalars(tab)
    finally:
        tab.close()
    rows = _selected_rows(meta, selection, scalars)
    if len(rows) == 0:
        return rows, 0
    _, counts = np.unique(scalars["TIME"][rows], return_counts=True)
    return rows, int(counts.max())


def _chunks(times: np.ndarray, max_rows: int):
    """Slices of sorted `times` holding whole time slots, each of at most max_rows rows; a
    single slot larger than that is cut into slices of max_rows rows."""
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    bounds = np.r_[starts, len(times)]
    begin = 0
    while begin < len(times):
        # the last slot boundary not more than max_rows past begin
        end = int(bounds[np.searchsorted(bounds, begin + max_rows, side="right") - 1])
        if end <= begin:  # the slot at begin alone is too big
            end = begin + max_rows
        yield slice(begin, end)
        begin = end


def _block(read, meta, ddid, rows, scalars, columns, tab, weights) -> VisBlock:
    """The block of one DATA_DESC_ID: the rows `rows`, read by `read`."""
    pol = meta.polarizations[meta.data_descriptions[ddid].pol_id]
    corr_order = np.argsort(pol.slots)
    canonical = np.array_equal(corr_order, np.arange(len(corr_order)))

    def corr(values, dtype):  # canonical correlation order, contiguous, of `dtype`
        values = values if canonical else values[..., corr_order]
        return np.ascontiguousarray(values, dtype=dtype)

    flag = read("FLAG")
    flag |= read("FLAG_ROW")[:, None, None]
    if not weights:
        weight = np.broadcast_to(np.ones(1, np.float32), flag.shape)
    elif "WEIGHT_SPECTRUM" in meta.columns and tab.iscelldefined("WEIGHT_SPECTRUM", int(rows[0])):
        weight = read("WEIGHT_SPECTRUM")
    else:  # WEIGHT broadcast over channels
        weight = np.broadcast_to(read("WEIGHT")[:, None, :], flag.shape)
    block = VisBlock(
        spw_id=meta.data_descriptions[ddid].spw_id, ddid=ddid, slots=tuple(sorted(pol.slots)),
        rows=rows, time=scalars["TIME"][rows], ant1=scalars["ANTENNA1"][rows].astype(np.int32),
        ant2=scalars["ANTENNA2"][rows].astype(np.int32), field=scalars["FIELD_ID"][rows],
        scan=scalars["SCAN_NUMBER"][rows], uvw=read("UVW"),
        flag=corr(flag, bool), weight=corr(weight, np.float32) if weights else weight,
    )
    for name in columns:
        block.vis[name] = corr(read(name), np.complex64)
    return block


def _row_reader(tab, rows):
    """A function read(column) giving the column at `rows` (a fresh array). Runs of
    consecutive row numbers (scans, time slots of one SPW: what a time-ordered MS is made of)
    are read straight into the output array; a selection scattered into short runs is read
    through a reference table instead."""
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks, len(rows)]
    if len(starts) > max(1, len(rows) // _MIN_RUN):
        sub = tab.selectrows(rows)
        return sub.getcol

    def read(col):
        first = tab.getcol(col, startrow=int(rows[0]), nrow=1)
        out = np.empty((len(rows),) + first.shape[1:], dtype=first.dtype)
        for a, b in zip(starts, ends):
            tab.getcolnp(col, out[a:b], startrow=int(rows[a]), nrow=int(b - a))
        return out

    return read
