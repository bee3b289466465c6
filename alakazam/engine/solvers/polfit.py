"""Joint fit of antenna leakages and a common cross-hand phase, per solution cell.

Model (CONVENTIONS.md, after the diagonal terms are corrected and any pre-applied leakage and
the parallactic rotation are in the model Z):

    R_pq = X D_p Z_pq D_q^H X^H,   D_p = [[1, x_p], [y_p, 1]],   X = diag(1, exp(i psi))

with x_p = d_pq and y_p = d_qp of antenna p, psi the cross-hand phase common to all antennas.
Either part may be held fixed (D = identity, or psi = 0). Alternating least squares on the
statistics of accumulate.PolStats: with psi fixed, each antenna's x_p and y_p are linear least
squares problems given the other antennas (Gauss-Seidel sweeps); with D fixed, psi = -arg of the
cross-hand correlation of data and model. Leakages are small, so the sweeps start from
D = identity and converge in a few iterations.

Correlation k = 2 i + j is entry (i, j) of a 2x2 matrix (accumulate.PolStats).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alakazam.engine.accumulate import PolStats
from alakazam.engine.solvers.stefcal import DIVERGED, NOT_CONVERGED, OK, active_antennas


def fit(stats: PolStats, settings, fit_d: bool, fit_psi: bool) -> dict:
    """Fit every cell of `stats` (see fit_cells); the results reshaped to the cells:
    d (n_tc, n_fc, n_ant, 2) complex (d_pq, d_qp), d_sigma (same, float: standard error of
    each real and imaginary part, the noise scaled by the reduced chi-squared), psi and
    psi_sigma (n_tc, n_fc) rad, reason (n_tc, n_fc, n_ant)."""
    n_tc, n_fc, n_ant = stats.n.shape[:3]
    cells = n_tc * n_fc
    d = np.zeros((cells, n_ant, 2), np.complex128)
    info = np.zeros((cells, n_ant, 2))
    psi, psi_info, red = np.zeros(cells), np.zeros(cells), np.ones(cells)
    reason = np.zeros((cells, n_ant), np.int64)
    shape4 = (cells, n_ant, n_ant, 4, 4)
    fit_cells(stats.sr.reshape(shape4), stats.sz.reshape(shape4),
              stats.rr.reshape(shape4[:3]), stats.n.reshape(shape4[:3]),
              stats.n_pre_rfi.reshape(shape4[:3]), fit_d, fit_psi, settings.min_baselines,
              settings.max_iter, settings.tol, d, info, psi, psi_info, red, reason)
    with np.errstate(divide="ignore"):
        d_sigma = np.where(info > 0, np.sqrt(red[:, None, None] / np.maximum(info, 1e-300)), np.inf)
        psi_sigma = np.where(psi_info > 0, np.sqrt(red / np.maximum(psi_info, 1e-300)), np.inf)
    cell = (n_tc, n_fc)
    return {"d": d.reshape(cell + (n_ant, 2)), "d_sigma": d_sigma.reshape(cell + (n_ant, 2)),
            "psi": psi.reshape(cell), "psi_sigma": psi_sigma.reshape(cell),
            "reason": reason.reshape(cell + (n_ant,))}


def power_ratio(stats: PolStats, k: tuple, m: tuple) -> np.ndarray:
    """Per cell (n_tc, n_fc): model power in the combination of correlations `k` over that in
    `m`, each a tuple of (sign, correlation) pairs: sum w |sum sign Z_k|^2 / ... ."""
    def power(combo):
        out = 0
        for s1, a in combo:
            for s2, b in combo:
                out = out + s1 * s2 * stats.sz[..., a, b].real
        return out.sum(axis=(2, 3))
    den = power(m)
    return np.where(den > 0, power(k) / np.where(den > 0, den, 1), 0.0)


@njit(cache=True, nogil=True)
def fit_cells(sr, sz, rr, n, n0, fit_d, fit_psi, min_bl, max_iter, tol, d, d_info, psi,
              psi_info, red_chi2, reason):
    """Fit every cell. sr, sz (n_cell, n_ant, n_ant, 4, 4), rr, n, n0 (n_cell, n_ant, n_ant):
    the statistics; fit_d, fit_psi: which parameters are free. Outputs: d (n_cell, n_ant, 2)
    complex (x, y), d_info (n_cell, n_ant, 2) their Fisher information (sum w |dR/dx|^2),
    psi (n_cell,) rad, psi_info (n_cell,), red_chi2 (n_cell,) reduced chi-squared,
    reason (n_cell, n_ant) codes."""
    for c in range(sr.shape[0]):
        psi[c], psi_info[c], red_chi2[c] = _fit_one(
            sr[c], sz[c], rr[c], n[c], n0[c], fit_d, fit_psi, min_bl, max_iter, tol, d[c],
            d_info[c], reason[c])


@njit(cache=True, nogil=True)
def _fit_one(sr, sz, rr, n, n0, fit_d, fit_psi, min_bl, max_iter, tol, d, d_info, reason):
    n_ant = n.shape[0]
    d[:] = 0
    d_info[:] = 0
    active = active_antennas(n, n0, min_bl, reason)
    if active.sum() < 2:
        return 0.0, 0.0, 1.0
    mats = np.zeros((n_ant, 2, 2), np.complex128)
    for p in range(n_ant):
        mats[p, 0, 0] = 1.0
        mats[p, 1, 1] = 1.0
    eye = mats[0].copy()
    psi = _best_psi(sr, n, active, mats) if fit_psi else 0.0
    converged = False
    for _ in range(max_iter):
        change = 0.0
        norm = 1e-30
        if fit_d:
            rot = np.exp(1j * psi)
            for p in range(n_ant):
                if not active[p]:
                    continue
                c01 = c10 = m01 = m10 = 0j
                m00 = m11 = 0.0
                for q in range(n_ant):
                    if q == p or not active[q] or n[p, q] == 0:
                        continue
                    for b in range(2):
                        # R~ = X^H R X: entry (0, b) carries exp(i psi) when b = 1, (1, b)
                        # exp(-i psi) when b = 0
                        f0 = rot if b == 1 else 1.0
                        f1 = np.conj(rot) if b == 0 else 1.0
                        c01 += f0 * _rw(sr[p, q], eye, mats[q], b, 2 + b)
                        c10 += f1 * _rw(sr[p, q], eye, mats[q], 2 + b, b)
                        m01 += _ww(sz[p, q], eye, mats[q], b, 2 + b)
                        m10 += _ww(sz[p, q], eye, mats[q], 2 + b, b)
                        m00 += _ww(sz[p, q], eye, mats[q], b, b).real
                        m11 += _ww(sz[p, q], eye, mats[q], 2 + b, 2 + b).real
                x = (c01 - m01) / m11 if m11 > 0 else 0j
                y = (c10 - m10) / m00 if m00 > 0 else 0j
                change += abs(x - mats[p, 0, 1]) ** 2 + abs(y - mats[p, 1, 0]) ** 2
                norm += abs(x) ** 2 + abs(y) ** 2
                mats[p, 0, 1], mats[p, 1, 0] = x, y
                d_info[p, 0], d_info[p, 1] = m11, m00
        if fit_psi:
            new = _best_psi(sr, n, active, mats)
            change += abs(np.angle(np.exp(1j * (new - psi)))) ** 2
            norm += 1.0
            psi = new
        if not np.isfinite(norm) or norm > 1e6 * n_ant:
            for p in range(n_ant):
                if active[p]:
                    reason[p] = DIVERGED
            return 0.0, 0.0, 1.0
        if change <= tol * tol * norm or not (fit_d or fit_psi):
            converged = True
            break
    # chi-squared and the information of psi, over baselines p < q
    rot = np.exp(1j * psi)
    chi2 = 0.0
    info_psi = 0.0
    samples = 0
    amat = np.empty((n_ant, 2, 2), np.complex128)
    for p in range(n_ant):
        amat[p, 0] = mats[p, 0]
        amat[p, 1] = rot * mats[p, 1]
    for p in range(n_ant):
        for q in range(p + 1, n_ant):
            if not (active[p] and active[q] and n[p, q] > 0):
                continue
            chi2 += rr[p, q]
            for k in range(4):
                chi2 += _ww(sz[p, q], amat[p], amat[q], k, k).real
                chi2 -= 2 * _rw(sr[p, q], amat[p], amat[q], k, k).real
            info_psi += (_ww(sz[p, q], mats[p], mats[q], 1, 1).real
                         + _ww(sz[p, q], mats[p], mats[q], 2, 2).real)
            samples += n[p, q]
    n_active = active.sum()
    params = (4 * n_active if fit_d else 0) + (1 if fit_psi else 0)
    dof = 8 * samples - params
    red = chi2 / dof if dof > 0 and chi2 > 0 else 1.0
    for p in range(n_ant):
        if active[p]:
            d[p, 0], d[p, 1] = mats[p, 0, 1], mats[p, 1, 0]
            reason[p] = OK if converged else NOT_CONVERGED
    return float(np.angle(rot)), info_psi, red


@njit(cache=True, nogil=True)
def _best_psi(sr, n, active, mats):
    """psi maximising the fit of the cross hands given the leakages: -arg sum over baselines
    of R_01 conj(W_01) + conj(R_10) W_10, W = D_p Z D_q^H."""
    s = 0j
    n_ant = n.shape[0]
    for p in range(n_ant):
        for q in range(n_ant):
            if p != q and active[p] and active[q] and n[p, q] > 0:
                s += _rw(sr[p, q], mats[p], mats[q], 1, 1)
                s += np.conj(_rw(sr[p, q], mats[p], mats[q], 2, 2))
    return -np.angle(s) if abs(s) > 0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def _rw(sr, ap, aq, k, m):
    """sum w R_k conj(W_m) with W = ap Z aq^H, from sr (4, 4) = sum w R_k conj(Z_l)."""
    i, j = m // 2, m % 2
    out = 0j
    for a in range(2):
        for b in range(2):
            out += np.conj(ap[i, a]) * aq[j, b] * sr[k, 2 * a + b]
    return out


@njit(cache=True, nogil=True, inline="always")
def _ww(sz, ap, aq, k, m):
    """sum w W_k conj(W_m) with W = ap Z aq^H, from sz (4, 4) = sum w Z_k conj(Z_l)."""
    i, j = k // 2, k % 2
    i2, j2 = m // 2, m % 2
    out = 0j
    for a in range(2):
        for b in range(2):
            u = ap[i, a] * np.conj(aq[j, b])
            for a2 in range(2):
                for b2 in range(2):
                    out += u * np.conj(ap[i2, a2]) * aq[j2, b2] * sz[2 * a + b, 2 * a2 + b2]
    return out
