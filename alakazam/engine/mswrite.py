"""Writing data columns of a Measurement Set: adding a column shaped like DATA, and putting
blocks of rows back in the MS's own correlation order. DATA itself is never written."""

from __future__ import annotations

import numpy as np
from casacore import tables

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta, open_table

_COPY_CHUNK = 50_000


def write_rows(tab, meta: MSMeta, rows: np.ndarray, ddid: int, values: dict) -> None:
    """Write columns {name: (n_row, n_chan, n_corr) in canonical correlation order} of the
    rows `rows` (all of DATA_DESC_ID `ddid`) of the open table `tab`, in the MS's correlation
    order, one put per run of consecutive rows."""
    if "DATA" in values:
        raise ValueError("DATA is never written")
    pol = meta.polarizations[meta.data_descriptions[ddid].pol_id]
    to_ms = np.argsort(np.argsort(pol.slots))  # canonical position of each stored correlation
    if not np.array_equal(to_ms, np.arange(len(to_ms))):
        values = {k: np.ascontiguousarray(v[..., to_ms]) for k, v in values.items()}
    if np.any(np.diff(rows) <= 0):  # not ascending: sort (a run needs ascending rows)
        order = np.argsort(rows)
        rows, values = rows[order], {k: v[order] for k, v in values.items()}
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
        for col, val in values.items():
            tab.putcol(col, val[a:b], startrow=int(rows[a]), nrow=int(b - a))


def add_column(ms: str, column: str, comment: str) -> bool:
    """Add `column` with DATA's description and tiling (values undefined) unless it exists;
    whether it was added."""
    tab = open_table(ms, readonly=False)
    try:
        if column in tab.colnames():
            return False
        desc = tab.getcoldesc("DATA")
        desc["comment"] = comment
        dminfo = tab.getdminfo("DATA")
        dminfo["NAME"] = f"{column}_dm"
        tab.addcols(tables.maketabdesc([tables.makecoldesc(column, desc)]), dminfo)
        return True
    except RuntimeError as exc:
        raise InputError(f"{ms}: cannot add column {column} ({str(exc).splitlines()[0]})") from None
    finally:
        tab.close()


def copy_column(ms: str, source: str, target: str) -> None:
    """target = source over every row, in chunks of rows."""
    tab = open_table(ms, readonly=False)
    try:
        for start in range(0, tab.nrows(), _COPY_CHUNK):
            n = min(_COPY_CHUNK, tab.nrows() - start)
            tab.putcol(target, tab.getcol(source, startrow=start, nrow=n), startrow=start, nrow=n)
    finally:
        tab.close()
