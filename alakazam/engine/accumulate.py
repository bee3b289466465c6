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

    @staticmethod
    def nbytes(n_tc: int, n_fc: int, n_ant: int) -> int:
        """Memory of the statistics of n_tc x n_fc cells (bytes)."""
        return n_tc * n_fc * 2 * n_ant * n_ant * (16 + 8 + 8 + 8 + 8)

    @classmethod
    def zeros(cls, n_tc: int, n_fc: int, n_ant: int) -> "CellStats":
        shape = (n_tc, n_fc, 2, n_ant, n_ant)
        return cls(np.zeros(shape, np.complex128), np.zeros(shape), np.zeros(shape),
                   np.zeros(shape, np.int64), np.zeros(shape, np.int64))

    def add(self, vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, slots) -> None:
        """Accumulate one block: vis, model (n_row, n_chan, n_corr) complex, weight
        (n_row, n_chan, n_corr) float, flag and rfi (same shape) bool, tcell (n_row,) time cell
        of each row, fcell (n_chan,) frequency cell of each channel, slots (n_corr,) the 2x2
        entry (2 i + j) of each position on the correlation axis (0 and 3 must be there)."""
        hands = np.array([list(slots).index(0), list(slots).index(3)], np.int64)
        _accumulate(vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, hands, self.a,
                    self.b, self.c, self.n, self.n_pre_rfi)

    def antenna_counts(self) -> np.ndarray:
        """Samples used per antenna (n_ant,), over all cells and both hands."""
        return self.n.sum(axis=(0, 1, 2, 4))


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


@dataclass
class PolStats:
    """Sufficient statistics of full 2x2 visibilities, for the solvers of leakage and
    cross-hand terms (R_pq = A_p Z_pq A_q^H with A_p a full 2x2 matrix).

    Correlations are flattened as k = 2 i + j for entry (i, j) of the 2x2 matrix. Per cell and
    baseline b (antennas p < q, `baselines(n_ant)`; a row with ANTENNA1 > ANTENNA2 enters as
    its Hermitian transpose): sr (n_tc, n_fc, n_bl, 4, 4) = sum w R_k conj(Z_l); sz (same) =
    sum w Z_k conj(Z_l); rr (n_tc, n_fc, n_bl) = sum w |R|^2 over the two cross hands; n and
    n_pre_rfi (n_tc, n_fc, n_bl) the 2x2 samples used (and before RFI flagging). A sample is
    used only if its four correlations are unflagged; its weight is the mean of the four."""

    sr: np.ndarray
    sz: np.ndarray
    rr: np.ndarray
    n: np.ndarray
    n_pre_rfi: np.ndarray
    n_ant: int

    @staticmethod
    def nbytes(n_tc: int, n_fc: int, n_ant: int) -> int:
        """Memory of the statistics of n_tc x n_fc cells (bytes), while accumulating; the fit
        adds a cell's worth for both orders of each pair."""
        return n_tc * n_fc * n_ant * (n_ant - 1) // 2 * (2 * 16 * 16 + 8 + 8 + 8)

    @classmethod
    def zeros(cls, n_tc: int, n_fc: int, n_ant: int) -> "PolStats":
        shape = (n_tc, n_fc, n_ant * (n_ant - 1) // 2)
        return cls(np.zeros(shape + (4, 4), np.complex128),
                   np.zeros(shape + (4, 4), np.complex128), np.zeros(shape),
                   np.zeros(shape, np.int64), np.zeros(shape, np.int64), n_ant)

    def add(self, vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, slots) -> None:
        """Accumulate one block (arguments as CellStats.add; slots (4,): the 2x2 entry of each
        position on the correlation axis, which must hold all four)."""
        pos = np.array([list(slots).index(k) for k in range(4)], np.int64)
        _accumulate_pol(vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, pos,
                        self.n_ant, self.sr, self.sz, self.rr, self.n, self.n_pre_rfi)

    def antenna_counts(self) -> np.ndarray:
        """Samples used per antenna (n_ant,), over all cells."""
        p, q = baselines(self.n_ant)
        per_baseline = self.n.sum(axis=(0, 1))
        return np.bincount(p, per_baseline, self.n_ant) + np.bincount(q, per_baseline, self.n_ant)


def baselines(n_ant: int) -> tuple[np.ndarray, np.ndarray]:
    """Antennas (p, q), p < q, of each baseline index of PolStats: (n_bl,) each."""
    p, q = np.triu_indices(n_ant, 1)
    return p, q


@njit(cache=True, nogil=True, inline="always")
def baseline_index(p, q, n_ant):
    """Index of the baseline of antennas p < q among baselines(n_ant)."""
    return p * (2 * n_ant - p - 1) // 2 + q - p - 1


@njit(cache=True, nogil=True)
def _accumulate_pol(vis, model, weight, flag, rfi, tcell, fcell, ant1, ant2, pos, n_ant, sr,
                    sz, rr, n, n0):
    r_ = np.empty(4, np.complex128)
    z_ = np.empty(4, np.complex128)
    tr = np.array([0, 2, 1, 3])  # flat index of entry (j, i) for k = 2 i + j
    for r in range(vis.shape[0]):
        t, p, q = tcell[r], ant1[r], ant2[r]
        if p == q:
            continue
        b = baseline_index(min(p, q), max(p, q), n_ant)
        for ch in range(vis.shape[1]):
            f = fcell[ch]
            usable = True
            hit = False
            w = 0.0
            zz = 0.0
            for k in range(4):
                c = pos[tr[k]] if p > q else pos[k]  # (q, p) rows enter as R^H, Z^H
                if flag[r, ch, c] or not weight[r, ch, c] > 0:
                    usable = False
                hit = hit or rfi[r, ch, c]
                w += 0.25 * weight[r, ch, c]
                r_[k] = np.conj(vis[r, ch, c]) if p > q else vis[r, ch, c]
                z_[k] = np.conj(model[r, ch, c]) if p > q else model[r, ch, c]
                zz += z_[k].real ** 2 + z_[k].imag ** 2
            if not usable or zz == 0:
                continue
            n0[t, f, b] += 1
            if hit:
                continue
            n[t, f, b] += 1
            for m in range(4):
                wz = w * np.conj(z_[m])
                for k in range(4):
                    sr[t, f, b, k, m] += r_[k] * wz
                    sz[t, f, b, k, m] += z_[k] * wz
            rr[t, f, b] += w * (abs(r_[1]) ** 2 + abs(r_[2]) ** 2)
