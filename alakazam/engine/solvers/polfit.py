"""Joint fit of antenna leakages and a common cross-hand phase, per solution cell.

Model (CONVENTIONS.md, after the diagonal terms are corrected and any pre-applied leakage and
the parallactic rotation are in the model Z):

    R_pq = X D_p Z_pq D_q^H X^H,   D_p = [[1, x_p], [y_p, 1]],   X = diag(1, exp(i psi))

with x_p = d_pq and y_p = d_qp of antenna p, psi the cross-hand phase common to all antennas.
Either part may be held fixed (D = identity, or psi = 0). Only the cross hands are fitted:
the parallel hands belong to the diagonal terms (G solved before D has absorbed the leakage's
small imprint on them, and fitting them again would bias the leakages).

Each iteration, on the statistics of accumulate.PolStats: a Gauss-Seidel sweep (with psi
fixed, each antenna's x_p and y_p are linear least-squares problems given the others), then
one Gauss-Newton step on the directions such sweeps move slowly because they shift every
antenna at once (common offsets and turns of the leakages, and psi). With D fixed, psi is
-arg of the cross-hand correlation of data and model. Leakages are small: the fit starts from
D = identity and converges in 10-30 iterations.

Correlation k = 2 i + j is entry (i, j) of a 2x2 matrix (accumulate.PolStats).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alakazam.engine.accumulate import PolStats, baseline_index
from alakazam.engine.solvers.stefcal import DIVERGED, NOT_CONVERGED, OK, active_antennas

POLARISED = 1e-4  # a fractional power above which the model counts as having it


def fit(stats: PolStats, settings, fit_d: bool, fit_psi: bool) -> dict:
    """Fit every cell of `stats` (see fit_cells), with the common leakage offset fixed by the
    least-leakage convention where the model leaves it free (offset_free); the results
    reshaped to the cells: d (n_tc, n_fc, n_ant, 2) complex (d_pq, d_qp), d_sigma (same,
    float: standard error of each real and imaginary part given the other antennas, the noise
    scaled by the reduced chi-squared), common_sigma (n_tc, n_fc) that of the common offset,
    psi and psi_sigma (n_tc, n_fc) rad, reason (n_tc, n_fc, n_ant)."""
    n_tc, n_fc, n_bl = stats.n.shape
    n_ant = stats.n_ant
    cells = n_tc * n_fc
    d = np.zeros((cells, n_ant, 2), np.complex128)
    info = np.zeros((cells, n_ant, 2))
    psi, psi_info, red = np.zeros(cells), np.zeros(cells), np.ones(cells)
    common_var = np.zeros((cells, 7))
    reason = np.zeros((cells, n_ant), np.int64)
    shape = (cells, n_bl)
    fit_cells(stats.sr.reshape(shape + (4, 4)), stats.sz.reshape(shape + (4, 4)),
              stats.rr.reshape(shape), stats.n.reshape(shape), stats.n_pre_rfi.reshape(shape),
              fit_d, fit_psi,
              offset_free(stats).reshape(cells), settings.min_baselines,
              settings.max_iter, settings.tol, d, info, psi, psi_info, common_var, red, reason)
    d_var = np.where(info > 0, 1.0 / np.maximum(info, 1e-300), np.inf)
    psi_var = np.where(psi_info > 0, 1.0 / np.maximum(psi_info, 1e-300), np.inf)
    if fit_d and fit_psi:
        psi_var = common_var[:, 6]
    cell = (n_tc, n_fc)
    return {"d": d.reshape(cell + (n_ant, 2)),
            "d_sigma": np.sqrt(red[:, None, None] * d_var).reshape(cell + (n_ant, 2)),
            "common_sigma": np.sqrt(red * 0.5 * (common_var[:, 0] + common_var[:, 1])
                                    ).reshape(cell),
            "psi": psi.reshape(cell), "psi_sigma": np.sqrt(red * psi_var).reshape(cell),
            "reason": reason.reshape(cell + (n_ant,))}


def polarised(stats: PolStats) -> np.ndarray:
    """Per cell (n_tc, n_fc): does the model have cross-hand power above POLARISED times its
    parallel-hand power."""
    return _power_ratio(stats, ((1, 1), (1, 2))) > POLARISED


def offset_free(stats: PolStats) -> np.ndarray:
    """Per cell (n_tc, n_fc): is the common leakage offset (d_pq + c, d_qp - conj(c)) left
    free by the model, i.e. is the power of Z_11 - Z_22 (Stokes Q' for LINEAR, V for
    CIRCULAR feeds) below POLARISED times the parallel-hand power."""
    return _power_ratio(stats, ((1, 0), (-1, 3))) <= POLARISED


def _power_ratio(stats: PolStats, combo: tuple) -> np.ndarray:
    """sum w |sum_k sign_k Z_k|^2 over sum w (|Z_11|^2 + |Z_22|^2) per cell; combo: (sign,
    correlation) pairs."""
    def power(pairs):
        out = 0
        for s1, a in pairs:
            for s2, b in pairs:
                out = out + s1 * s2 * stats.sz[..., a, b].real
        return out.sum(axis=2)
    den = power(((1, 0),)) + power(((1, 3),))
    return np.where(den > 0, power(combo) / np.where(den > 0, den, 1), 0.0)


@njit(cache=True, nogil=True)
def fit_cells(sr, sz, rr, n, n0, fit_d, fit_psi, free, min_bl, max_iter, tol, d, d_info, psi,
              psi_info, common_var, red_chi2, reason):
    """Fit every cell. sr, sz (n_cell, n_bl, 4, 4), rr, n, n0 (n_cell, n_bl): the statistics
    per baseline (accumulate.PolStats), expanded cell by cell to both orders of each antenna
    pair; fit_d, fit_psi: which parameters are free; free (n_cell,): the common
    leakage offset is undetermined and is held at the least total leakage. Outputs:
    d (n_cell, n_ant, 2) complex (x, y), d_info (n_cell, n_ant, 2) their Fisher information
    (sum w |dR/dx|^2),
    psi (n_cell,) rad, psi_info (n_cell,) its information with D fixed, common_var
    (n_cell, 7) when fit_d: the variances (in units of the noise) of the common directions
    of _global_normal (Re c, Im c, ..., psi), red_chi2 (n_cell,) reduced chi-squared,
    reason (n_cell, n_ant) codes."""
    n_ant = d.shape[1]
    pair_sr = np.zeros((n_ant, n_ant, 4, 4), np.complex128)
    pair_sz = np.zeros((n_ant, n_ant, 4, 4), np.complex128)
    pair_rr = np.zeros((n_ant, n_ant))
    pair_n = np.zeros((n_ant, n_ant), np.int64)
    pair_n0 = np.zeros((n_ant, n_ant), np.int64)
    tr = np.array([0, 2, 1, 3])  # flat index of entry (j, i) for k = 2 i + j
    for c in range(sr.shape[0]):
        for p in range(n_ant):
            for q in range(p + 1, n_ant):
                b = baseline_index(p, q, n_ant)
                for k in range(4):
                    for m in range(4):
                        pair_sr[p, q, k, m] = sr[c, b, k, m]
                        pair_sz[p, q, k, m] = sz[c, b, k, m]
                        # (q, p) holds R^H, Z^H: entry k of R^H is conj(R_tr[k])
                        pair_sr[q, p, tr[k], tr[m]] = np.conj(sr[c, b, k, m])
                        pair_sz[q, p, tr[k], tr[m]] = np.conj(sz[c, b, k, m])
                pair_rr[p, q] = pair_rr[q, p] = rr[c, b]
                pair_n[p, q] = pair_n[q, p] = n[c, b]
                pair_n0[p, q] = pair_n0[q, p] = n0[c, b]
        psi[c], psi_info[c], red_chi2[c] = _fit_one(
            pair_sr, pair_sz, pair_rr, pair_n, pair_n0, fit_d, fit_psi, free[c], min_bl,
            max_iter, tol, d[c], d_info[c], common_var[c], reason[c])


@njit(cache=True, nogil=True)
def _fit_one(sr, sz, rr, n, n0, fit_d, fit_psi, free, min_bl, max_iter, tol, d, d_info,
             common_var, reason):
    n_ant = n.shape[0]
    d[:] = 0
    d_info[:] = 0
    active = active_antennas(n, n0, min_bl, reason)
    if active.sum() < 2:
        return 0.0, 0.0, 1.0
    mats = np.zeros((n_ant, 2, 2), np.complex128)  # D_p
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
            before = mats.copy()
            _sweep(sr, sz, n, active, mats, eye, psi, d_info)
            # the slow directions of the sweeps (changes of every antenna at once, traded
            # against the cross-hand phase) by one Gauss-Newton step
            jtj, jtr = _global_normal(sr, sz, n, active, mats, psi, fit_psi, free)
            step = np.linalg.solve(jtj, jtr)
            dc, ds = step[0] + 1j * step[1], step[2] + 1j * step[3]
            dpsi = step[6] if fit_psi else 0.0
            turn_x, turn_y = np.exp(-1j * (step[4] + step[5])), np.exp(1j * (step[4] - step[5]))
            for p in range(n_ant):
                if active[p]:
                    mats[p, 0, 1] = mats[p, 0, 1] * turn_x + dc + ds
                    mats[p, 1, 0] = mats[p, 1, 0] * turn_y - np.conj(dc) + np.conj(ds)
            if free:
                _least_leakage(mats, active)
            psi += dpsi
            for p in range(n_ant):
                change += abs(mats[p, 0, 1] - before[p, 0, 1]) ** 2 + abs(
                    mats[p, 1, 0] - before[p, 1, 0]) ** 2
                norm += abs(mats[p, 0, 1]) ** 2 + abs(mats[p, 1, 0]) ** 2
            change += dpsi**2
        elif fit_psi:
            new = _best_psi(sr, n, active, mats)
            change += abs(np.angle(np.exp(1j * (new - psi)))) ** 2
            psi = new
        norm += 1.0 if fit_psi else 0.0
        if not np.isfinite(norm) or norm > 1e6 * n_ant:
            for p in range(n_ant):
                if active[p]:
                    reason[p] = DIVERGED
            return 0.0, 0.0, 1.0
        if change <= tol * tol * norm or not (fit_d or fit_psi):
            converged = True
            break
    if fit_d:
        cov = np.linalg.inv(_global_normal(sr, sz, n, active, mats, psi, fit_psi, free)[0])
        for i in range(cov.shape[0]):
            common_var[i] = cov[i, i]
    # chi-squared and the information of psi, over baselines p < q
    amat = _with_psi(mats, psi)
    chi2 = 0.0
    info_psi = 0.0
    samples = 0
    for p in range(n_ant):
        for q in range(p + 1, n_ant):
            if not (active[p] and active[q] and n[p, q] > 0):
                continue
            chi2 += rr[p, q]
            for k in (1, 2):
                chi2 += _ww(sz[p, q], amat[p], amat[q], amat[p], amat[q], k, k).real
                chi2 -= 2 * _rw(sr[p, q], amat[p], amat[q], k, k).real
            for k in (1, 2):
                info_psi += _ww(sz[p, q], mats[p], mats[q], mats[p], mats[q], k, k).real
            samples += n[p, q]
    n_active = active.sum()
    params = (4 * n_active if fit_d else 0) + (1 if fit_psi else 0)
    dof = 4 * samples - params
    red = chi2 / dof if dof > 0 and chi2 > 0 else 1.0
    for p in range(n_ant):
        if active[p]:
            d[p, 0], d[p, 1] = mats[p, 0, 1], mats[p, 1, 0]
            reason[p] = OK if converged else NOT_CONVERGED
    return float(np.angle(np.exp(1j * psi))), info_psi, red


@njit(cache=True, nogil=True)
def _with_psi(mats, psi):
    """A_p = X D_p (n_ant, 2, 2) with X = diag(1, exp(i psi))."""
    out = mats.copy()
    rot = np.exp(1j * psi)
    for p in range(mats.shape[0]):
        out[p, 1, 0] *= rot
        out[p, 1, 1] *= rot
    return out


@njit(cache=True, nogil=True)
def _sweep(sr, sz, n, active, mats, eye, psi, d_info):
    """One Gauss-Seidel sweep over the antennas: each x_p, y_p by linear least squares with
    the others fixed, fitting the cross hands of X^H R X = D_p Z D_q^H; d_info (n_ant, 2)
    gets each parameter's information."""
    rot = np.exp(1j * psi)
    n_ant = n.shape[0]
    for p in range(n_ant):
        if not active[p]:
            continue
        c01 = c10 = m01 = m10 = 0j
        m00 = m11 = 0.0
        for q in range(n_ant):
            if q == p or not active[q] or n[p, q] == 0:
                continue
            dq = mats[q]
            # X^H R X: entry (0, 1) = R_01 exp(i psi) = W_01 + x_p W_11, entry (1, 0) =
            # R_10 exp(-i psi) = W_10 + y_p W_00, with W = Z D_q^H
            c01 += rot * _rw(sr[p, q], eye, dq, 1, 3)
            c10 += np.conj(rot) * _rw(sr[p, q], eye, dq, 2, 0)
            m01 += _ww(sz[p, q], eye, dq, eye, dq, 1, 3)
            m10 += _ww(sz[p, q], eye, dq, eye, dq, 2, 0)
            m00 += _ww(sz[p, q], eye, dq, eye, dq, 0, 0).real
            m11 += _ww(sz[p, q], eye, dq, eye, dq, 3, 3).real
        mats[p, 0, 1] = (c01 - m01) / m11 if m11 > 0 else 0j
        mats[p, 1, 0] = (c10 - m10) / m00 if m00 > 0 else 0j
        d_info[p, 0] = m11
        d_info[p, 1] = m00


@njit(cache=True, nogil=True)
def _global_normal(sr, sz, n, active, mats, psi, fit_psi, free):
    """Gauss-Newton normal equations (J^T J, J^T r) for the parameters the sweeps move
    slowly, which change every antenna together: a common leakage offset c (x_p + c,
    y_p - conj(c): undetermined for an unpolarised source) and its mirror s (x_p + s,
    y_p + conj(s)), two common turns (x_p exp(-i (r1 + r2)), y_p exp(i (r1 - r2))) and, when
    fit_psi, psi (parameters 0-1: c, 2-3: s, 4: r1, 5: r2, 6: psi). With `free`, c is held
    (its rows are the identity). An undetermined direction is damped to (almost) no step."""
    n_ant = n.shape[0]
    amat = _with_psi(mats, psi)
    n_par = 7 if fit_psi else 6
    # derivatives of D_p (then A_p = X D_p), and dA/dpsi = diag(0, i) A_p
    deriv = np.zeros((7, n_ant, 2, 2), np.complex128)
    for p in range(n_ant):
        x, y = mats[p, 0, 1], mats[p, 1, 0]
        deriv[0, p, 0, 1], deriv[0, p, 1, 0] = 1.0, -1.0
        deriv[1, p, 0, 1], deriv[1, p, 1, 0] = 1j, 1j
        deriv[2, p, 0, 1], deriv[2, p, 1, 0] = 1.0, 1.0
        deriv[3, p, 0, 1], deriv[3, p, 1, 0] = 1j, -1j
        deriv[4, p, 0, 1], deriv[4, p, 1, 0] = -1j * x, 1j * y
        deriv[5, p, 0, 1], deriv[5, p, 1, 0] = -1j * x, -1j * y
    deriv[:6] = _with_psi(deriv[:6].reshape((-1, 2, 2)), psi).reshape((6, n_ant, 2, 2))
    for p in range(n_ant):
        deriv[6, p, 1, 0] = 1j * amat[p, 1, 0]
        deriv[6, p, 1, 1] = 1j * amat[p, 1, 1]
    jtj = np.zeros((n_par, n_par))
    jtr = np.zeros(n_par)
    # per baseline and cross hand k, every matrix of the form L Z R^H is linear in Z: entry k
    # is g . Z with g_ab = L[i, a] conj(R[j, b]); g[i] for dM_i = L_p Z A_q^H + A_p Z L_q^H,
    # g[n_par] for M itself, and h = sz conj(g) turns inner products into dot products
    g = np.empty((n_par + 1, 4), np.complex128)
    h = np.empty((n_par + 1, 4), np.complex128)
    for p in range(n_ant):
        for q in range(p + 1, n_ant):
            if not (active[p] and active[q] and n[p, q] > 0):
                continue
            s, ap, aq = sz[p, q], amat[p], amat[q]
            for k in (1, 2):
                for i in range(n_par):
                    _coef(deriv[i, p], aq, k, g[i], False)
                    _coef(ap, deriv[i, q], k, g[i], True)
                _coef(ap, aq, k, g[n_par], False)
                for i in range(n_par + 1):
                    for ab in range(4):
                        acc = 0j
                        for cd in range(4):
                            acc += s[ab, cd] * np.conj(g[i, cd])
                        h[i, ab] = acc
                for i in range(n_par):
                    r = 0j
                    for ab in range(4):  # <R, dM_i> - <M, dM_i>
                        r += sr[p, q, k, ab] * np.conj(g[i, ab]) - g[n_par, ab] * h[i, ab]
                    jtr[i] += r.real
                    for j in range(i, n_par):
                        v = 0j
                        for ab in range(4):
                            v += g[i, ab] * h[j, ab]
                        jtj[i, j] += v.real
                        if j != i:
                            jtj[j, i] += v.real
    scale = 0.0
    for i in range(n_par):
        scale = max(scale, jtj[i, i])
    for i in range(n_par):
        jtj[i, i] += 1e-9 * scale if scale > 0 else 1.0
    if free:
        for i in range(2):
            jtr[i] = 0.0
            for j in range(n_par):
                jtj[i, j] = jtj[j, i] = 0.0
            jtj[i, i] = 1.0
    return jtj, jtr


@njit(cache=True, nogil=True)
def _least_leakage(mats, active):
    """Move the leakages along the common offset (x_p + c, y_p - conj(c)) to the least total
    leakage over the active antennas: mean(x) = conj(mean(y))."""
    mx = my = 0j
    count = 0
    for p in range(mats.shape[0]):
        if active[p]:
            mx += mats[p, 0, 1]
            my += mats[p, 1, 0]
            count += 1
    c = -(mx - np.conj(my)) / (2 * max(count, 1))
    for p in range(mats.shape[0]):
        if active[p]:
            mats[p, 0, 1] += c
            mats[p, 1, 0] -= np.conj(c)


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
def _coef(left, right, k, out, add):
    """Coefficients (4,) of entry k of left Z right^H as a linear form in Z (flattened
    2 a + b): left[i, a] conj(right[j, b]); added to `out` when `add`, else written."""
    i, j = k // 2, k % 2
    for a in range(2):
        for b in range(2):
            v = left[i, a] * np.conj(right[j, b])
            out[2 * a + b] = out[2 * a + b] + v if add else v


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
def _ww(sz, a1, b1, a2, b2, k, m):
    """sum w U_k conj(V_m) with U = a1 Z b1^H and V = a2 Z b2^H, from sz (4, 4) =
    sum w Z_k conj(Z_l)."""
    i, j = k // 2, k % 2
    i2, j2 = m // 2, m % 2
    out = 0j
    for a in range(2):
        for b in range(2):
            u = a1[i, a] * np.conj(b1[j, b])
            for c in range(2):
                for e in range(2):
                    out += u * np.conj(a2[i2, c]) * b2[j2, e] * sz[2 * a + b, 2 * c + e]
    return out
