"""MAD-based RFI flagging of visibilities before solving.

Per row (one baseline at one time) and parallel hand, the amplitudes of V / M over the
channels (the instrumental gain product is smooth in frequency) are compared with their
median: samples further than threshold x 1.4826 x MAD (a robust sigma) are flagged. Each row
is judged on its own, so the flags do not depend on how the rows were batched into blocks
(memory tiers 1, 2 and 3 flag the same samples). Rows with fewer than 5 usable channels are
left alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MIN_SAMPLES = 5


def mad_flags(vis, model, flag, hands, threshold: float) -> np.ndarray:
    """RFI flags (n_row, n_chan, n_corr) bool for a block (vis, model (n_row, n_chan, n_corr)
    complex; flag bool, already-flagged samples are ignored; hands: positions of the parallel
    hands on the correlation axis); threshold 0 disables."""
    rfi = np.zeros(flag.shape, dtype=np.bool_)
    if threshold <= 0 or vis.shape[0] == 0:
        return rfi
    _mad(vis, model, flag, np.asarray(hands, np.int64), threshold, rfi)
    return rfi


@njit(cache=True, nogil=True)
def _mad(vis, model, flag, hands, threshold, rfi):
    n_row, n_chan = vis.shape[0], vis.shape[1]
    amp = np.empty(n_chan)  # |V/M| of the usable channels of one row and hand
    chan = np.empty(n_chan, np.int64)  # their channel numbers
    work = np.empty(n_chan)  # scratch reordered by the median
    for r in range(n_row):
        for h in range(len(hands)):
            k = hands[h]
            n = 0
            for c in range(n_chan):
                m = model[r, c, k]
                m2 = m.real * m.real + m.imag * m.imag
                if flag[r, c, k] or m2 == 0:
                    continue
                v = vis[r, c, k]
                amp[n] = np.sqrt((v.real * v.real + v.imag * v.imag) / m2)
                chan[n] = c
                n += 1
            if n < MIN_SAMPLES:
                continue
            work[:n] = amp[:n]
            med = _median(work, n)
            for i in range(n):
                work[i] = abs(amp[i] - med)
            limit = threshold * 1.4826 * _median(work, n)
            if limit <= 0:
                continue
            for i in range(n):
                if abs(amp[i] - med) > limit:
                    rfi[r, chan[i], k] = True


@njit(cache=True, nogil=True)
def _median(a, n):
    """Median of a[:n], reordering a[:n] in place (quickselect, no allocation)."""
    k = n // 2
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        pivot = max(min(a[lo], a[hi]), min(max(a[lo], a[hi]), a[mid]))  # median of three
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    value = a[k]
    if n % 2:
        return value
    below = a[0]
    for i in range(1, k):
        below = max(below, a[i])
    return 0.5 * (below + value)
