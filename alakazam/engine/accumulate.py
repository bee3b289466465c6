"""Averaging visibilities into solution cells, as per-baseline sufficient statistics.

For a diagonal Jones term solved on the parallel hands, minimising
sum w |V_pq - g_p M_pq conj(g_q)|^2 over a cell only needs, per cell, hand and antenna pair,
A_pq = sum w V conj(M), B_pq = sum w |M|^2, C_pq = sum w |V|^2 and the sample count. These are
accumulated block by block (numba), so a cell may span any number of reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit


@dataclass
class CellStats:
    """Sufficient statistics, each (n_tc, n_fc, 2, n_ant, n_ant) and Hermitian in the antenna
    pair: a = sum w V conj(M) (complex), b = sum w |M|^2, c = sum w |V|^2, n = samples used,
    n_pre_rfi = samples before RFI flagging. Hand 0 is receptor 1 (XX/RR), hand 1 receptor 2."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    n: np.ndarray
    n_pre_rfi: np.ndarray

    @classmethod
    def zeros(cls, n_tc: int, n_fc: int, n_ant: int) -> "CellStats":
        shape = (n_tc, n_fc, 2, n_ant, n_ant)
        return cls(np.zeros(shape, np.complex128), np.zeros(shape), np.zeros(shape),
                   np.zeros(shape, np.int64), np.zeros(shape, np.int64))

    def add(self, vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, hands) -> None:
        """Accumulate one block: vis, model (n_row, n_chan, n_corr) complex, weight
        (n_row, n_chan, n_corr) float, flag and rfi (same shape) bool, tcell (n_row,) time cell
        of each row, fcell (n_chan,) frequency cell of each channel, hands (2,) positions of the
        two parallel hands on the correlation axis."""
        _accumulate(vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2,
                    np.asarray(hands, np.int64), self.a, self.b, self.c, self.n, self.n_pre_rfi)


@njit(cache=True, nogil=True)
def _accumulate(vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, hands, a, b, c, n, n0):
    for r in range(vis.shape[0]):
        t, p, q = tcell[r], ant1[r], ant2[r]
        if p == q:
            continue
        for ch in range(vis.shape[1]):
            f = fcell[ch]
            for h in range(2):
                k = hands[h]
                w = weight[r, ch, k]
                m = model[r, ch, k]
                mm = m.real * m.real + m.imag * m.imag
                if flag[r, ch, k] or not w > 0 or mm == 0:
                    continue
                n0[t, f, h, p, q] += 1
                n0[t, f, h, q, p] += 1
                if rfi[r, ch, k]:
                    continue
                v = vis[r, ch, k]
                av = w * v * np.conj(m)
                a[t, f, h, p, q] += av
                a[t, f, h, q, p] += np.conj(av)
                b[t, f, h, p, q] += w * mm
                b[t, f, h, q, p] += w * mm
                vv = w * (v.real * v.real + v.imag * v.imag)
                c[t, f, h, p, q] += vv
                c[t, f, h, q, p] += vv
                n[t, f, h, p, q] += 1
                n[t, f, h, q, p] += 1
