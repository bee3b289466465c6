"""Xf and Kcross: the cross-hand phase and delay, one per cell for all antennas.

After K and G (referenced per receptor) the data keep the reference antenna's receptor-2
minus receptor-1 phase, common to every antenna: X = diag(1, exp(i phi)). It is measured from
the cross hands of a polarised calibrator (polfit, with psi free). When no D is in the chain,
the leakages are fitted beside it as nuisance parameters (this needs a range of parallactic
angle); with a D pre-applied the fit is exact.

Xf: phi_pq per time/frequency cell, Xf = diag(1, exp(i phi)).
Kcross: phi per channel, then the slope over the SPW (the delay search of K):
Kcross = diag(1, exp(2 pi i tau (nu - nu0))), nu0 the SPW's centre; its constant phase is left
for a later Xf step.
"""

from __future__ import annotations

import numpy as np

from alakazam.engine.accumulate import PolStats
from alakazam.engine.config import FreqInterval
from alakazam.engine.grid import Axis, freq_cells
from alakazam.engine.jones import delay_phasor, diagonal
from alakazam.engine.solution import Solution
from alakazam.engine.solvers.common import PolSolver
from alakazam.engine.solvers.delay import fit_delays
from alakazam.engine.solvers.polfit import fit
from alakazam.engine.solvers.stefcal import LOW_SNR, NO_DATA, OK


def cross_phase(stats: PolStats, settings):
    """Per cell (n_tc, n_fc): the cross-hand phase psi (rad), its SNR (1 / standard error)
    and a reason code (OK, or why no antenna could be used, or LOW_SNR)."""
    res = fit(stats, settings, fit_d="D" not in settings.preapplied, fit_psi=True)
    ok = (res["reason"] == OK).any(axis=-1)
    snr = np.where(ok, 1.0 / res["psi_sigma"], 0.0)
    reason = np.where(ok, np.where(snr < settings.min_snr, LOW_SNR, OK),
                      res["reason"].max(axis=-1))
    return res["psi"], snr, reason


def _same_for_all(header, taxis: Axis, faxis: Axis, receptor2: np.ndarray, reason: np.ndarray,
                  snr: np.ndarray, n_ant: int, native: dict) -> Solution:
    """A Solution whose Jones matrix diag(1, receptor2) is the same for every antenna;
    receptor2, reason and snr are per cell (n_t, n_f), broadcast over the antennas."""
    def per_antenna(values, extra=()):
        v = values.reshape(values.shape + (1,) * (1 + len(extra)))
        return np.ascontiguousarray(np.broadcast_to(v, values.shape + (n_ant,) + extra))

    diag = np.stack([np.ones_like(receptor2), receptor2], axis=-1)  # (n_t, n_f, 2)
    return Solution(
        **header, time=taxis.centres, time_bounds=taxis.bounds, freq=faxis.centres,
        freq_bounds=faxis.bounds, jones=diagonal(np.repeat(diag[:, :, None], n_ant, axis=2)),
        flags=per_antenna(reason != OK), reason=per_antenna(reason).astype(np.uint8),
        snr=per_antenna(snr, (2,)), ref_ant_used=np.full(reason.shape, -1, np.int64),
        native=native)


class CrossPhaseSolver(PolSolver):
    def solve(self, stats: PolStats, taxis: Axis, faxis: Axis, spw, step, settings,
              header) -> Solution:
        psi, snr, reason = cross_phase(stats, settings)
        psi = np.where(reason != OK, 0.0, psi)
        return _same_for_all(header, taxis, faxis, np.exp(1j * psi), reason, snr, stats.n_ant,
                             {"phi_pq": psi})


class CrossDelaySolver(PolSolver):
    def freq_axis(self, spw, step) -> Axis:
        """Per channel: the delay is a slope across the SPW."""
        return freq_cells(spw.freqs, spw.widths, FreqInterval("1", channels=1))

    def solve(self, stats: PolStats, taxis: Axis, faxis: Axis, spw, step, settings,
              header) -> Solution:
        psi, snr, reason = cross_phase(stats, settings)  # (n_tc, n_chan)
        good = reason == OK
        weight = np.where(good, snr**2, 0.0)
        freqs = np.asarray(spw.freqs, float)
        nu0 = float(np.mean(freqs))
        tau = fit_delays(np.exp(1j * psi)[:, :, None, None], weight[:, :, None, None],
                         freqs - nu0)[:, 0, 0]  # (n_tc,) ns
        k_snr = np.sqrt(weight.sum(axis=1))
        n_good = good.sum(axis=1)
        k_reason = np.where(n_good < 2, np.where(n_good == 0, reason.max(axis=1), NO_DATA),
                            np.where(k_snr < settings.min_snr, LOW_SNR, OK))
        tau = np.where(k_reason == OK, tau, 0.0)
        def per_chan(v):
            return np.repeat(v[:, None], len(freqs), axis=1)

        return _same_for_all(header, taxis, faxis, delay_phasor(tau, freqs, nu0).T,
                             per_chan(k_reason), per_chan(k_snr), stats.n_ant,
                             {"delay_pq": tau})
