"""StEFCal (Salvini & Wijnholds 2014): alternating least squares for diagonal antenna gains.

Works on the per-cell sufficient statistics of accumulate.CellStats. For each cell and hand,
g_p <- sum_q g_q A_pq / sum_q |g_q|^2 B_pq, averaging successive iterates every second step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Reason codes of a flagged solution (0 = a good solution); NO_FLUXSCALE is set by fluxscale
# on a transfer field's SPW for which no scale could be derived.
OK, NO_DATA, FEW_BASELINES, DIVERGED, NOT_CONVERGED, LOW_SNR, RFI, NO_FLUXSCALE = range(8)
REASONS = {OK: "ok", NO_DATA: "no data", FEW_BASELINES: "too few baselines",
           DIVERGED: "diverged", NOT_CONVERGED: "not converged", LOW_SNR: "low SNR", RFI: "RFI",
           NO_FLUXSCALE: "no flux scale"}


@njit(cache=True, nogil=True)
def solve_cells(a, b, c, n, n_pre_rfi, min_bl, max_iter, tol, phase_only, gains, snr, reason):
    """Solve every cell and hand.

    a, b, c, n, n_pre_rfi: (n_cell, 2, n_ant, n_ant) statistics; outputs gains (n_cell, 2,
    n_ant) complex, snr (n_cell, 2, n_ant) (|g| over its standard error, the noise scaled by the
    reduced chi-squared of the cell) and reason (n_cell, 2, n_ant) int codes.
    """
    n_cell, n_ant = a.shape[0], a.shape[2]
    for cell in range(n_cell):
        for h in range(2):
            _solve_one(a[cell, h], b[cell, h], c[cell, h], n[cell, h], n_pre_rfi[cell, h],
                       min_bl, max_iter, tol, phase_only, gains[cell, h], snr[cell, h],
                       reason[cell, h], n_ant)


@njit(cache=True, nogil=True)
def _solve_one(a, b, c, n, n0, min_bl, max_iter, tol, phase_only, g_out, snr_out, reason_out,
               n_ant):
    for p in range(n_ant):
        g_out[p] = 0.0
        snr_out[p] = 0.0
    active = active_antennas(n, n0, min_bl, reason_out)
    n_active = active.sum()
    if n_active < 2:
        return

    g = np.ones(n_ant, dtype=np.complex128)
    g_new = np.zeros(n_ant, dtype=np.complex128)
    converged = False
    diverged = False
    for it in range(max_iter):
        for p in range(n_ant):
            if not active[p]:
                continue
            num = 0j
            den = 0.0
            for q in range(n_ant):
                if active[q] and n[p, q] > 0:
                    num += g[q] * a[p, q]
                    den += (g[q].real ** 2 + g[q].imag ** 2) * b[p, q]
            g_new[p] = num / den if den > 0 else 0j
            if phase_only and abs(g_new[p]) > 0:
                g_new[p] /= abs(g_new[p])
        if it % 2 == 1:
            for p in range(n_ant):
                g_new[p] = 0.5 * (g_new[p] + g[p])
                if phase_only and abs(g_new[p]) > 0:
                    g_new[p] /= abs(g_new[p])
        diff = 0.0
        norm = 0.0
        for p in range(n_ant):
            if active[p]:
                diff += abs(g_new[p] - g[p]) ** 2
                norm += abs(g_new[p]) ** 2
                g[p] = g_new[p]
        if not np.isfinite(norm) or norm == 0.0 or norm > 1e12 * n_active:
            diverged = True
            break
        if diff <= tol * tol * norm:
            converged = True
            break

    chi2 = 0.0
    samples = 0
    for p in range(n_ant):
        for q in range(p + 1, n_ant):
            if active[p] and active[q] and n[p, q] > 0:
                gpq = g[p] * np.conj(g[q])
                chi2 += c[p, q] - 2.0 * (gpq * np.conj(a[p, q])).real + abs(gpq) ** 2 * b[p, q]
                samples += n[p, q]
    params = n_active if phase_only else 2 * n_active
    dof = 2 * samples - params
    red = chi2 / dof if dof > 0 and chi2 > 0 else 1.0
    for p in range(n_ant):
        if not active[p]:
            continue
        info = 0.0
        for q in range(n_ant):
            if active[q] and n[p, q] > 0:
                info += (g[q].real ** 2 + g[q].imag ** 2) * b[p, q]
        g_out[p] = g[p]
        snr_out[p] = abs(g[p]) * np.sqrt(info / red) if info > 0 else 0.0
        if diverged:
            reason_out[p] = DIVERGED
        elif not converged:
            reason_out[p] = NOT_CONVERGED
        else:
            reason_out[p] = OK


@njit(cache=True, nogil=True)
def active_antennas(n, n0, min_bl, reason_out):
    """The antennas (n_ant,) bool that can be solved in a cell: they had data (n0 (n_ant,
    n_ant) samples before RFI flagging) and keep at least min_bl baselines (n: samples used)
    to other such antennas. Others get NO_DATA, RFI or FEW_BASELINES in reason_out (n_ant,);
    when fewer than two remain, none can be solved (FEW_BASELINES)."""
    n_ant = n.shape[0]
    active = np.ones(n_ant, dtype=np.bool_)
    for p in range(n_ant):
        had = 0
        for q in range(n_ant):
            if n0[p, q] > 0:
                had += 1
        if had == 0:
            active[p] = False
            reason_out[p] = NO_DATA
    changed = True  # drop antennas with too few baselines to other active antennas
    while changed:
        changed = False
        for p in range(n_ant):
            if not active[p]:
                continue
            nbl = 0
            for q in range(n_ant):
                if active[q] and n[p, q] > 0:
                    nbl += 1
            if nbl < min_bl:
                active[p] = False
                changed = True
                reason_out[p] = RFI if _all_rfi(n, n0, p, n_ant) else FEW_BASELINES
    if active.sum() < 2:
        for p in range(n_ant):
            if active[p]:
                reason_out[p] = FEW_BASELINES
                active[p] = False
    return active


@njit(cache=True, nogil=True)
def _all_rfi(n, n0, p, n_ant):
    """True when antenna p had data but the RFI flagger removed (nearly) all of it."""
    before = 0
    after = 0
    for q in range(n_ant):
        before += n0[p, q]
        after += n[p, q]
    return before > 0 and after * 10 < before
