"""What the solvers share: the settings of a cell solve, the StEFCal call of the diagonal
solvers, and the base of the solvers of the full 2x2 visibilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alakazam.engine.accumulate import CellStats, PolStats
from alakazam.engine.grid import Axis, freq_cells
from alakazam.engine.solvers.stefcal import LOW_SNR, OK, solve_cells


@dataclass(frozen=True)
class SolveSettings:
    """min_snr: solutions below it are flagged; ref_order: (n_ant,) antennas in reference
    preference order; min_baselines: an antenna needs this many baselines in a cell."""

    phase_only: bool
    min_snr: float
    max_iter: int
    tol: float
    ref_order: np.ndarray
    min_baselines: int
    preapplied: tuple[str, ...] = ()  # Jones types of the chain already applied


def stefcal(stats: CellStats, settings: SolveSettings, phase_only: bool):
    """Diagonal gains per cell: (gains, snr, reason), each (n_tc, n_fc, 2, n_ant); solutions
    below min_snr get reason LOW_SNR."""
    n_tc, n_fc, _, n_ant, _ = stats.a.shape
    shape = (n_tc * n_fc, 2, n_ant, n_ant)
    gains = np.zeros((n_tc * n_fc, 2, n_ant), np.complex128)
    snr = np.zeros((n_tc * n_fc, 2, n_ant))
    reason = np.zeros((n_tc * n_fc, 2, n_ant), np.int64)
    solve_cells(stats.a.reshape(shape), stats.b.reshape(shape), stats.c.reshape(shape),
                stats.n.reshape(shape), stats.n_pre_rfi.reshape(shape), settings.min_baselines,
                settings.max_iter, settings.tol, phase_only, gains, snr, reason)
    out = [x.reshape(n_tc, n_fc, 2, n_ant) for x in (gains, snr, reason)]
    out[2][(out[2] == OK) & (out[1] < settings.min_snr)] = LOW_SNR
    return out


def antenna_reason(reason: np.ndarray) -> np.ndarray:
    """Per-antenna reason (..., n_ant) from per-hand reasons (..., 2, n_ant): the first
    non-zero code of the two receptors (an antenna is good only if both are)."""
    return np.where(reason[..., 0, :] != OK, reason[..., 0, :], reason[..., 1, :]).astype(np.uint8)


class PolSolver:
    """Base of D, Xf and Kcross: full-2x2 statistics on the step's frequency cells."""

    statistics = PolStats

    def freq_axis(self, spw, step) -> Axis:
        """The step's frequency cells (freq_interval: per channel gives frequency-dependent
        terms)."""
        return freq_cells(spw.freqs, spw.widths, step.freq_interval)
