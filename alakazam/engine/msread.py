"""Reading visibilities for a selection, in time-ordered blocks of one SPW.

Rows are chosen with whole-column numpy masks, sorted by (TIME, ANTENNA1, ANTENNA2) and read
with casacore column reads over the block (no Python loop over rows). Correlations come out in
the canonical order of the 2x2 coherency matrix (11, 12, 21, 22 restricted to those present),
whatever the order of CORR_TYPE in the MS; channels stay in the MS's own order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta, open_table
from alakazam.engine.selection import Selection

DATA_COLUMNS = ("DATA", "MODEL_DATA", "CORRECTED_DATA")
_DENSE_READ = 0.5  # read a covering row range when at least this fraction of it is wanted


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
    """(n_row, n_chan, n_corr) in canonical order -> (n_row, n_chan, 2, 2); absent entries 0."""
    out = np.zeros(vis.shape[:-1] + (4,), dtype=np.complex128)
    out[..., list(slots)] = vis
    return out.reshape(vis.shape[:-1] + (2, 2))


def from_matrix(mat: np.ndarray, slots) -> np.ndarray:
    """(n_row, n_chan, 2, 2) -> (n_row, n_chan, n_corr) holding the entries at `slots`."""
    return mat.reshape(mat.shape[:-2] + (4,))[..., list(slots)]


def iter_blocks(meta: MSMeta, selection: Selection, columns=("DATA",), max_rows: int = 100_000):
    """Yield VisBlocks of the selected rows: SPW by SPW, then in time order, each block holding
    whole time slots and at most `max_rows` rows (unless one time slot has more).

    columns: data columns to read (DATA, MODEL_DATA, CORRECTED_DATA); a column absent from the
    MS is an InputError naming it.
    """
    for name in columns:
        if name not in meta.columns:
            raise InputError(f"{meta.path}: column {name} missing from the main table "
                             f"(data columns present: {', '.join(c for c in meta.columns if c in DATA_COLUMNS)})")
    tab = open_table(meta.path)
    try:
        if tab.nrows() == 0:
            return
        scalars = {c: tab.getcol(c) for c in ("TIME", "ANTENNA1", "ANTENNA2", "FIELD_ID",
                                              "SCAN_NUMBER", "DATA_DESC_ID")}
        mask = np.ones(tab.nrows(), dtype=bool)
        if selection.field_ids is not None:
            mask &= np.isin(scalars["FIELD_ID"], selection.field_ids)
        if selection.scans is not None:
            mask &= np.isin(scalars["SCAN_NUMBER"], selection.scans)
        if not selection.autocorrelations:
            mask &= scalars["ANTENNA1"] != scalars["ANTENNA2"]
        spw_ids = selection.spw_ids if selection.spw_ids is not None else range(len(meta.spws))
        for spw_id in spw_ids:
            for ddid in meta.ddids_of_spw(spw_id):
                rows = np.flatnonzero(mask & (scalars["DATA_DESC_ID"] == ddid))
                if rows.size == 0:
                    continue
                order = np.lexsort((scalars["ANTENNA2"][rows], scalars["ANTENNA1"][rows],
                                    scalars["TIME"][rows]))
                rows = rows[order]
                for chunk in _chunks(scalars["TIME"][rows], max_rows):
                    yield _read_block(tab, meta, spw_id, ddid, rows[chunk], scalars, columns)
    finally:
        tab.close()


def _chunks(times: np.ndarray, max_rows: int):
    """Slices of sorted `times` holding whole time slots, each of at most max_rows rows
    (a single slot larger than that stands alone)."""
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    bounds = np.r_[starts, len(times)]
    begin = 0
    while begin < len(times):
        # the last slot boundary not more than max_rows past begin, but at least one slot
        limit = np.searchsorted(bounds, begin + max_rows, side="right") - 1
        end = bounds[max(limit, np.searchsorted(bounds, begin, side="right"))]
        yield slice(begin, int(end))
        begin = int(end)


def _read_block(tab, meta, spw_id, ddid, rows, scalars, columns) -> VisBlock:
    pol = meta.polarizations[meta.data_descriptions[ddid].pol_id]
    corr_order = np.argsort(pol.slots)
    read = _row_reader(tab, rows)
    flag = read("FLAG") | read("FLAG_ROW")[:, None, None]
    weight = _weights(tab, meta, rows, read, flag.shape)
    block = VisBlock(
        spw_id=spw_id, ddid=ddid, slots=tuple(sorted(pol.slots)), rows=rows,
        time=scalars["TIME"][rows], ant1=scalars["ANTENNA1"][rows].astype(np.int32),
        ant2=scalars["ANTENNA2"][rows].astype(np.int32), field=scalars["FIELD_ID"][rows],
        scan=scalars["SCAN_NUMBER"][rows], uvw=read("UVW"),
        flag=np.ascontiguousarray(flag[..., corr_order]),
        weight=np.ascontiguousarray(weight[..., corr_order], dtype=np.float32),
    )
    for name in columns:
        block.vis[name] = np.ascontiguousarray(read(name)[..., corr_order], dtype=np.complex64)
    return block


def _row_reader(tab, rows):
    """A function reading a column at `rows` (in that order): one contiguous read of the
    covering range when the rows fill enough of it, otherwise a reference-table read."""
    first, last = int(rows.min()), int(rows.max())
    span = last - first + 1
    if len(rows) >= _DENSE_READ * span:
        return lambda col: tab.getcol(col, startrow=first, nrow=span)[rows - first]
    sub = tab.selectrows(rows)
    return lambda col: sub.getcol(col)


def _weights(tab, meta, rows, read, shape) -> np.ndarray:
    """WEIGHT_SPECTRUM where the MS has it filled, else WEIGHT broadcast over channels."""
    if "WEIGHT_SPECTRUM" in meta.columns and tab.iscelldefined("WEIGHT_SPECTRUM", int(rows[0])):
        return read("WEIGHT_SPECTRUM")
    return np.broadcast_to(read("WEIGHT")[:, None, :], shape)
