"""Numba kernels of the measurement equation: V_obs[p,q] = J_p V[p,q] J_q^H.

Visibilities travel as (n_row, n_chan, 2, 2) complex arrays in the feed basis; antenna Jones
matrices as (n_t, n_chan, n_ant, 2, 2), indexed per row by a time-slot index. The same kernel
corrupts a model (simulation) and corrects data (apply, with inverted Jones matrices).
"""

from __future__ import annotations

import numpy as np
from numba import njit

C_LIGHT = 299792458.0  # m/s


@njit(inline="always")
def _product(a, v00, v01, v10, v11, b):
    """Entries (00, 01, 10, 11) of a @ V @ b^H; a, b 2x2, V = [[v00, v01], [v10, v11]]."""
    m00 = a[0, 0] * v00 + a[0, 1] * v10
    m01 = a[0, 0] * v01 + a[0, 1] * v11
    m10 = a[1, 0] * v00 + a[1, 1] * v10
    m11 = a[1, 0] * v01 + a[1, 1] * v11
    b00, b01, b10, b11 = np.conj(b[0, 0]), np.conj(b[0, 1]), np.conj(b[1, 0]), np.conj(b[1, 1])
    return (m00 * b00 + m01 * b01, m00 * b10 + m01 * b11,
            m10 * b00 + m11 * b01, m10 * b10 + m11 * b11)


@njit(cache=True, nogil=True)
def sandwich(jones, vis, tslot, ant1, ant2, out):
    """out[r, c] = J[tslot[r], c, ant1[r]] @ vis[r, c] @ J[tslot[r], c, ant2[r]]^H.

    jones: (n_t, n_chan, n_ant, 2, 2) complex; vis, out: (n_row, n_chan, 2, 2) complex
    (out may be vis); tslot, ant1, ant2: (n_row,) int.
    """
    n_row, n_chan = vis.shape[0], vis.shape[1]
    for r in range(n_row):
        t, p, q = tslot[r], ant1[r], ant2[r]
        for c in range(n_chan):
            res = _product(jones[t, c, p], vis[r, c, 0, 0], vis[r, c, 0, 1], vis[r, c, 1, 0],
                           vis[r, c, 1, 1], jones[t, c, q])
            out[r, c, 0, 0], out[r, c, 0, 1], out[r, c, 1, 0], out[r, c, 1, 1] = res


@njit(cache=True, nogil=True)
def invert(jones, jflags):
    """Inverses of (..., 2, 2) complex Jones matrices and where they are unusable: flagged in
    jflags (...) or singular (|det| < 1e-12), where the inverse is the identity.
    Returns (inverse (..., 2, 2) complex128, bad (...) bool)."""
    shape = jflags.shape
    src = np.ascontiguousarray(jones).reshape((-1, 2, 2))
    flags = np.ascontiguousarray(jflags).reshape(-1)
    inverse = np.empty(src.shape, np.complex128)
    bad = np.empty(flags.shape, np.bool_)
    for i in range(src.shape[0]):
        a, b, c, d = src[i, 0, 0], src[i, 0, 1], src[i, 1, 0], src[i, 1, 1]
        det = a * d - b * c
        if flags[i] or abs(det) < 1e-12:
            bad[i] = True
            inverse[i, 0, 0], inverse[i, 0, 1], inverse[i, 1, 0], inverse[i, 1, 1] = 1, 0, 0, 1
            continue
        bad[i] = False
        inverse[i, 0, 0], inverse[i, 0, 1] = d / det, -b / det
        inverse[i, 1, 0], inverse[i, 1, 1] = -c / det, a / det
    return inverse.reshape(shape + (2, 2)), bad.reshape(shape)


@njit(cache=True, nogil=True)
def multiply(a, b, out):
    """out = a @ b for (..., 2, 2) complex arrays of one shape, all C-contiguous (out may be
    a)."""
    x, y, z = a.reshape((-1, 2, 2)), b.reshape((-1, 2, 2)), out.reshape((-1, 2, 2))
    for i in range(x.shape[0]):
        a00, a01, a10, a11 = x[i, 0, 0], x[i, 0, 1], x[i, 1, 0], x[i, 1, 1]
        b00, b01, b10, b11 = y[i, 0, 0], y[i, 0, 1], y[i, 1, 0], y[i, 1, 1]
        z[i, 0, 0] = a00 * b00 + a01 * b10
        z[i, 0, 1] = a00 * b01 + a01 * b11
        z[i, 1, 0] = a10 * b00 + a11 * b10
        z[i, 1, 1] = a10 * b01 + a11 * b11


@njit(cache=True, nogil=True)
def correct_rows(inverse, bad, vis, flag, slots, tslot, ant1, ant2, out, out_flag):
    """out[r, c] = J_p^-1 V J_q^-H on the correlation axis, and out_flag = flag or either
    antenna's Jones unusable.

    inverse: (n_t, n_chan, n_ant, 2, 2) complex; bad: (n_t, n_chan, n_ant) bool;
    vis, out: (n_row, n_chan, n_corr) complex, correlations at the flattened 2x2 positions
    slots (n_corr,) (absent entries taken as 0); flag, out_flag: (n_row, n_chan, n_corr) bool;
    tslot, ant1, ant2: (n_row,) int.
    """
    n_row, n_chan, n_corr = vis.shape
    v = np.zeros(4, np.complex128)
    for r in range(n_row):
        t, p, q = tslot[r], ant1[r], ant2[r]
        for c in range(n_chan):
            for k in range(n_corr):
                v[slots[k]] = vis[r, c, k]
            res = _product(inverse[t, c, p], v[0], v[1], v[2], v[3], inverse[t, c, q])
            unusable = bad[t, c, p] or bad[t, c, q]
            for k in range(n_corr):
                out[r, c, k] = res[slots[k]]
                out_flag[r, c, k] = flag[r, c, k] or unusable


@njit(cache=True, nogil=True)
def predict(uvw, freqs, lmn, brightness, slots, out):
    """Add the visibilities of point sources to `out`.

    uvw: (n_row, 3) m (u, v, w of ANTENNA1 minus ANTENNA2); freqs: (n_chan,) Hz;
    lmn: (n_src, 3) direction cosines relative to the phase centre, third column n - 1;
    brightness: (n_src, n_chan, 4) complex Jy, the flattened 2x2 coherency matrices;
    slots: (n_corr,) flattened 2x2 position of each correlation of `out`;
    out: (n_row, n_chan, n_corr) complex (any precision).
    The phase of each source is exp(-2 pi i (u l + v m + w (n - 1)) nu / c); a source at the
    phase centre (lmn = 0) needs no UVW and adds its brightness to every row.
    """
    n_row, n_chan, n_corr = out.shape
    for s in range(lmn.shape[0]):
        centred = lmn[s, 0] == 0.0 and lmn[s, 1] == 0.0 and lmn[s, 2] == 0.0
        for r in range(n_row):
            if centred:
                for c in range(n_chan):
                    for k in range(n_corr):
                        out[r, c, k] += brightness[s, c, slots[k]]
                continue
            delay = uvw[r, 0] * lmn[s, 0] + uvw[r, 1] * lmn[s, 1] + uvw[r, 2] * lmn[s, 2]
            for c in range(n_chan):
                phase = -2.0 * np.pi * delay * freqs[c] / C_LIGHT
                kernel = np.cos(phase) + 1j * np.sin(phase)
                for k in range(n_corr):
                    out[r, c, k] += kernel * brightness[s, c, slots[k]]


@njit(cache=True, nogil=True)
def add_noise(vis, sigma, seed):
    """Add complex Gaussian noise with standard deviation `sigma` (Jy) on each of the real and
    imaginary parts of every element of vis (any shape, complex), in place."""
    np.random.seed(seed)
    flat = vis.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] += sigma * (np.random.standard_normal() + 1j * np.random.standard_normal())


@njit(cache=True, nogil=True)
def scale_weights(jones, bad, weight, tslot, ant1, ant2, slots):
    """Weights of data corrected by J^-1 V J^-H: w |J_p[i,i]|^2 |J_q[j,j]|^2 for the
    correlation at flattened 2x2 position slots[k] = 2 i + j, in place (unchanged where
    either Jones matrix is unusable: those samples are flagged).

    jones: (n_t, n_chan, n_ant, 2, 2); bad: (n_t, n_chan, n_ant) bool;
    weight: (n_row, n_chan, n_corr) float.
    """
    for r in range(weight.shape[0]):
        t, p, q = tslot[r], ant1[r], ant2[r]
        for c in range(weight.shape[1]):
            if bad[t, c, p] or bad[t, c, q]:
                continue
            for k in range(weight.shape[2]):
                i, j = slots[k] // 2, slots[k] % 2
                gp = jones[t, c, p, i, i]
                gq = jones[t, c, q, j, j]
                weight[r, c, k] *= (gp.real**2 + gp.imag**2) * (gq.real**2 + gq.imag**2)
