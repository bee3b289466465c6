"""Interpolation of solution tables in time and frequency (CONVENTIONS.md, design).

Modes, applied along time and then along frequency:
  exact   - the solution whose cell contains the sample (as stored, flagged or not); samples in
            no cell take the nearest good solution;
  nearest - the nearest good solution;
  linear  - linear between the bracketing good solutions;
  cubic   - natural cubic spline through the good solutions (linear with fewer than 3).
Diagonal entries are interpolated as amplitude and unwrapped phase, off-diagonal entries as
real and imaginary parts. Flagged solutions never take part; beyond the first or last good
solution the edge value is held. A sample with no good solution at all is flagged.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alakazam.engine.solution import Solution

MODES = {"exact": -1, "nearest": 0, "linear": 1, "cubic": 2}
_IS_PHASE = np.array([False, True, False, True, False, False, False, False])


def interpolate(sol: Solution, times: np.ndarray, freqs: np.ndarray, mode: str):
    """Jones matrices (n_T, n_C, n_ant, 2, 2) and flags (n_T, n_C, n_ant) of `sol` at
    times (n_T,) MJD s and freqs (n_C,) Hz."""
    comps = _components(sol.jones)  # (n_t, n_f, n_ant, 8)
    valid = ~sol.flags
    comps, valid = _along(comps, valid, sol.time, sol.time_bounds, np.asarray(times, float), mode)
    # frequency: source cells sorted ascending
    order = np.argsort(sol.freq)
    comps = np.swapaxes(comps[:, order], 0, 1)
    valid = np.swapaxes(valid[:, order], 0, 1)
    comps, valid = _along(comps, valid, sol.freq[order], sol.freq_bounds[order],
                          np.asarray(freqs, float), mode)
    return _jones(np.swapaxes(comps, 0, 1)), ~np.swapaxes(valid, 0, 1)


def _components(jones: np.ndarray) -> np.ndarray:
    d0, d1 = jones[..., 0, 0], jones[..., 1, 1]
    o0, o1 = jones[..., 0, 1], jones[..., 1, 0]
    return np.stack([np.abs(d0), np.angle(d0), np.abs(d1), np.angle(d1),
                     o0.real, o0.imag, o1.real, o1.imag], axis=-1)


def _jones(c: np.ndarray) -> np.ndarray:
    out = np.empty(c.shape[:-1] + (2, 2), np.complex128)
    out[..., 0, 0] = c[..., 0] * np.exp(1j * c[..., 1])
    out[..., 1, 1] = c[..., 2] * np.exp(1j * c[..., 3])
    out[..., 0, 1] = c[..., 4] + 1j * c[..., 5]
    out[..., 1, 0] = c[..., 6] + 1j * c[..., 7]
    return out


def _along(comps, valid, x, bounds, xq, mode):
    """Interpolate comps (n_x, ..., 8) with valid (n_x, ...) along axis 0 at xq (n_q,)."""
    n_x = comps.shape[0]
    rest = comps.shape[1:-1]
    y = comps.reshape(n_x, -1)
    ok = np.repeat(valid.reshape(n_x, -1), 8, axis=1)
    is_phase = np.tile(_IS_PHASE, int(np.prod(rest, dtype=np.int64)))
    kind = max(MODES[mode], 0)
    yq, okq = _interp_series(np.asarray(x, float), y, ok, xq, kind, is_phase)
    if MODES[mode] < 0:  # exact: stamp the containing cell as it is
        inside = (xq[:, None] >= bounds[None, :, 0]) & (xq[:, None] <= bounds[None, :, 1])
        cell = np.where(inside.any(axis=1), inside.argmax(axis=1), -1)
        hit = cell >= 0
        yq[hit] = y[cell[hit]]
        okq[hit] = ok[cell[hit]]
    n_q = len(xq)
    return yq.reshape((n_q,) + rest + (8,)), okq.reshape((n_q,) + rest + (8,))[..., 0]


@njit(cache=True, nogil=True)
def _interp_series(x, y, ok, xq, kind, is_phase):
    """Per column s of y (n_x, n_s): interpolate the rows where ok at xq (n_q,), x ascending.
    kind 0 nearest, 1 linear, 2 natural cubic spline; phases unwrapped along the good points."""
    n_x, n_s = y.shape
    n_q = xq.shape[0]
    out = np.zeros((n_q, n_s))
    out_ok = np.zeros((n_q, n_s), dtype=np.bool_)
    xs = np.empty(n_x)
    ys = np.empty(n_x)
    for s in range(n_s):
        m = 0
        for i in range(n_x):
            if ok[i, s]:
                xs[m] = x[i]
                v = y[i, s]
                if is_phase[s] and m > 0:
                    v = ys[m - 1] + ((v - ys[m - 1] + np.pi) % (2 * np.pi) - np.pi)
                ys[m] = v
                m += 1
        if m == 0:
            continue
        second = np.zeros(m)
        if kind == 2 and m >= 3:
            second = _spline_second_derivatives(xs[:m], ys[:m])
        for j in range(n_q):
            out_ok[j, s] = True
            t = xq[j]
            if m == 1 or t <= xs[0]:
                out[j, s] = ys[0]
                continue
            if t >= xs[m - 1]:
                out[j, s] = ys[m - 1]
                continue
            k = np.searchsorted(xs[:m], t) - 1  # xs[k] < t <= xs[k+1]
            x0, x1 = xs[k], xs[k + 1]
            if kind == 0:
                out[j, s] = ys[k] if t - x0 <= x1 - t else ys[k + 1]
            elif kind == 1 or m < 3:
                f = (t - x0) / (x1 - x0) if x1 > x0 else 0.0
                out[j, s] = ys[k] + f * (ys[k + 1] - ys[k])
            else:
                h = x1 - x0
                a = (x1 - t) / h
                b = (t - x0) / h
                out[j, s] = (a * ys[k] + b * ys[k + 1]
                             + ((a**3 - a) * second[k] + (b**3 - b) * second[k + 1]) * h * h / 6)
    return out, out_ok


@njit(cache=True, nogil=True)
def _spline_second_derivatives(x, y):
    """Natural cubic spline: second derivatives at the knots (tridiagonal solve)."""
    n = x.shape[0]
    d2 = np.zeros(n)
    u = np.zeros(n)
    for i in range(1, n - 1):
        sig = (x[i] - x[i - 1]) / (x[i + 1] - x[i - 1])
        p = sig * d2[i - 1] + 2.0
        d2[i] = (sig - 1.0) / p
        u[i] = ((y[i + 1] - y[i]) / (x[i + 1] - x[i]) - (y[i] - y[i - 1]) / (x[i] - x[i - 1]))
        u[i] = (6.0 * u[i] / (x[i + 1] - x[i - 1]) - sig * u[i - 1]) / p
    d2[n - 1] = 0.0
    for k in range(n - 2, -1, -1):
        d2[k] = d2[k] * d2[k + 1] + u[k]
    return d2
