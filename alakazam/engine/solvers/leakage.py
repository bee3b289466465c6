"""D: antenna leakages d_pq (receptor 2 into 1) and d_qp (1 into 2) per time/frequency cell.

Solved from the full 2x2 visibilities of a calibrator against its model (with the parallactic
rotation when apply_parang is set), the diagonal terms of the chain corrected. Two cases:

- A polarised calibrator (model cross-hand power above polfit.POLARISED of the parallel
  hands) with no Xf in the chain: the residual cross-hand phase of the reference antenna is
  fitted with the leakages as a nuisance (a later Xf step solves it for real). With the
  model's Stokes known and the parallactic angle changing over the cell, LINEAR feeds
  determine every leakage.
- Where the model has no power in Z_11 - Z_22 (an unpolarised calibrator in either basis,
  or CIRCULAR feeds on a source without circular polarisation) a common offset is
  undetermined: d_pq + c, d_qp - conj(c) for every antenna fits the data equally (to first
  order in d). It is fixed by the solution of least total leakage (the mean over antennas of
  d_pq - conj(d_qp) is zero); only the combinations d_pq,p + conj(d_qp,q) are physical.
An unpolarised calibrator with no Xf pre-applied gives the leakages in the frame of the
residual cross-hand phase (X D X^H): applying them without Xf removes the leakage exactly but
leaves the cross-hand phase (the polarisation angle) uncalibrated.
"""

from __future__ import annotations

import numpy as np

from alakazam.engine.accumulate import PolStats
from alakazam.engine.grid import Axis
from alakazam.engine.jones import leakage
from alakazam.engine.solution import Solution
from alakazam.engine.solvers.common import PolSolver
from alakazam.engine.solvers.polfit import fit, offset_free, polarised
from alakazam.engine.solvers.stefcal import LOW_SNR, OK


class LeakageSolver(PolSolver):
    def solve(self, stats: PolStats, taxis: Axis, faxis: Axis, spw, step, settings,
              header) -> Solution:
        fit_psi = bool(polarised(stats).all()) and "Xf" not in settings.preapplied
        res = fit(stats, settings, fit_d=True, fit_psi=fit_psi)
        d = res["d"]
        free = offset_free(stats)  # (n_tc, n_fc)
        reason = res["reason"]
        ok = reason == OK
        # a determined common offset is known less well than each antenna's leakage given
        # the others: its variance adds to every antenna's
        common = np.where(free, 0.0, res["common_sigma"])[..., None, None]
        snr = 1.0 / np.sqrt(res["d_sigma"] ** 2 + common**2)
        reason = np.where(ok & (snr.min(axis=-1) < settings.min_snr), LOW_SNR, reason)
        flags = reason != OK
        d = np.where(flags[..., None], 0, d)
        n_t, n_f = flags.shape[:2]
        return Solution(
            **header, time=taxis.centres, time_bounds=taxis.bounds, freq=faxis.centres,
            freq_bounds=faxis.bounds, jones=leakage(d[..., 0], d[..., 1]), flags=flags,
            reason=reason.astype(np.uint8), snr=np.where(flags[..., None], 0.0, snr),
            ref_ant_used=np.full((n_t, n_f), -1, np.int64),
            native={"d_pq": d[..., 0], "d_qp": d[..., 1]})


def least_leakage(d: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Leakages (..., n_ant, 2) moved along the degenerate direction (d_pq + c,
    d_qp - conj(c)) to the smallest total leakage over the antennas that are `ok` (..., n_ant):
    the convention the solver follows where the offset is free (the truth of a simulation
    in that convention)."""
    count = np.maximum(ok.sum(axis=-1), 1)
    mean_pq = (d[..., 0] * ok).sum(axis=-1) / count
    mean_qp = (d[..., 1] * ok).sum(axis=-1) / count
    c = -(mean_pq - np.conj(mean_qp)) / 2
    out = d.copy()
    out[..., 0] += c[..., None]
    out[..., 1] -= np.conj(c)[..., None]
    return out
