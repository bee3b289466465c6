"""MAD-based RFI flagging of visibilities before solving.

Per baseline and parallel hand, over all the rows of a block and all channels, the amplitude of
V / M (the instrumental gain product, smooth in time and frequency) is compared with its median:
samples further than threshold x 1.4826 x MAD (a robust sigma) are flagged.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def mad_flags(vis, model, flag, ant1, ant2, hands, threshold: float) -> np.ndarray:
    """RFI flags (n_row, n_chan, n_corr) bool for a block (vis, model (n_row, n_chan, n_corr)
    complex; flag bool, already-flagged samples are ignored); threshold 0 disables."""
    rfi = np.zeros(flag.shape, dtype=np.bool_)
    if threshold <= 0 or vis.shape[0] == 0:
        return rfi
    baseline = ant1.astype(np.int64) * (int(max(ant1.max(), ant2.max())) + 1) + ant2
    order = np.argsort(baseline, kind="stable")
    starts = np.flatnonzero(np.r_[True, baseline[order][1:] != baseline[order][:-1]])
    starts = np.r_[starts, len(order)].astype(np.int64)
    _mad(vis, model, flag, order, starts, np.asarray(hands, np.int64), threshold, rfi)
    return rfi


@njit(cache=True, nogil=True)
def _mad(vis, model, flag, order, starts, hands, threshold, rfi):
    n_chan = vis.shape[1]
    for g in range(len(starts) - 1):
        rows = order[starts[g]:starts[g + 1]]
        for h in range(len(hands)):
            k = hands[h]
            amp = np.empty(len(rows) * n_chan)
            n = 0
            for r in rows:
                for c in range(n_chan):
                    m = model[r, c, k]
                    if flag[r, c, k] or m == 0:
                        continue
                    amp[n] = abs(vis[r, c, k] / m)
                    n += 1
            if n < 5:
                continue
            med = np.median(amp[:n])
            mad = np.median(np.abs(amp[:n] - med))
            if mad <= 0:
                continue
            limit = threshold * 1.4826 * mad
            for r in rows:
                for c in range(n_chan):
                    m = model[r, c, k]
                    if flag[r, c, k] or m == 0:
                        continue
                    if abs(abs(vis[r, c, k] / m) - med) > limit:
                        rfi[r, c, k] = True
