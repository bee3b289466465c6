"""Interpolation of solution tables: each mode on known smooth functions, flags, edges."""

from __future__ import annotations

import numpy as np
import pytest

from alakazam.engine.interp import interpolate
from alakazam.engine.jones import diagonal, leakage
from alakazam.engine.solution import Solution


def table(times, freqs, gains, flags=None, offdiag=None):
    """A G-like Solution with gains (n_t, n_f, n_ant, 2) on cells of width dt around times."""
    n_t, n_f, n_ant, _ = gains.shape
    dt = np.diff(times).min() if n_t > 1 else 60.0
    df = np.diff(freqs).min() if n_f > 1 else 1e6
    jones = diagonal(gains)
    if offdiag is not None:
        jones = jones @ leakage(offdiag[..., 0], offdiag[..., 1])
    return Solution("G", 0, "F", 0.0, 0.0, 0, np.asarray(times, float),
                    np.stack([times - dt / 2, times + dt / 2], 1), np.asarray(freqs, float),
                    np.stack([freqs - df / 2, freqs + df / 2], 1), jones,
                    np.zeros((n_t, n_f, n_ant), bool) if flags is None else flags,
                    np.zeros((n_t, n_f, n_ant), np.uint8), np.ones((n_t, n_f, n_ant, 2)),
                    np.zeros((n_t, n_f), int))


def phase_ramp(t, f):
    """A smooth gain: amplitude 1 + 0.2 sin, phase running through several turns (wraps)."""
    amp = 1 + 0.2 * np.sin(t[:, None] / 500.0) * np.cos(f[None, :] / 3e7)
    phase = t[:, None] / 100.0 + f[None, :] / 2e7
    return amp * np.exp(1j * phase)


T = np.arange(0.0, 3000.0, 100.0)
F = 1.3e9 + np.arange(8) * 8e6


def gains_of(fn, t, f, n_ant=3):
    g = fn(t, f)[:, :, None, None] * np.ones((1, 1, n_ant, 2))
    return g


# linear: h^2/8 times the curvature of the amplitude, in time (1e-3) plus frequency (2e-3);
# cubic: an order of magnitude better away from the natural-spline ends
@pytest.mark.parametrize("mode, tol", [("linear", 4e-3), ("cubic", 3e-4)])
def test_linear_and_cubic_follow_a_smooth_wrapping_gain(mode, tol):
    sol = table(T, F, gains_of(phase_ramp, T, F))
    tq = np.linspace(200.0, 2700.0, 37)
    fq = np.linspace(F[1], F[-2], 11)
    jones, flags = interpolate(sol, tq, fq, mode)
    want = phase_ramp(tq, fq)
    got = jones[:, :, 1, 0, 0]
    assert not flags.any()
    assert np.abs(got - want).max() < tol


def test_exact_stamps_cells_and_nearest_picks_the_closest():
    sol = table(T, F[:1], gains_of(phase_ramp, T, F[:1]))
    tq = np.array([149.0, 151.0, -500.0, 9000.0])
    for mode in ("exact", "nearest"):
        jones, _ = interpolate(sol, tq, F[:1], mode)
        idx = [1, 2, 0, len(T) - 1]  # 149 is in cell 1 (50..150); outside: edge cells
        assert np.allclose(jones[:, 0, 0, 0, 0], sol.jones[idx, 0, 0, 0, 0])


def test_flagged_solutions_never_take_part():
    g = gains_of(phase_ramp, T, F[:1])
    flags = np.zeros((len(T), 1, 3), bool)
    flags[10, 0, 1] = True  # one bad solution of antenna 1
    g[10, 0, 1] = 100.0     # with a wild value
    flags[:, 0, 2] = True   # antenna 2 has no solution at all
    sol = table(T, F[:1], g, flags)
    jones, out_flags = interpolate(sol, np.array([1000.0, 1050.0]), F[:1], "linear")
    want = phase_ramp(np.array([1000.0, 1050.0]), F[:1])[:, 0]
    assert np.abs(jones[:, 0, 1, 0, 0] - want).max() < 0.05  # bridged over cell 10
    assert out_flags[:, 0, 2].all() and not out_flags[:, 0, :2].any()
    exact, exact_flags = interpolate(sol, np.array([1000.0]), F[:1], "exact")
    assert exact_flags[0, 0, 1]  # exact stamps the cell as it is, flag included


def test_off_diagonal_terms_are_complex_linear():
    d = np.zeros((len(T), 1, 2, 2), complex)
    d[..., 0] = (0.05 + 0.01j) * (1 + T[:, None, None] / 3000)
    sol = table(T, F[:1], np.ones((len(T), 1, 2, 2)), offdiag=d)
    jones, _ = interpolate(sol, np.array([1234.0]), F[:1], "linear")
    assert jones[0, 0, 0, 0, 1] == pytest.approx((0.05 + 0.01j) * (1 + 1234 / 3000))
