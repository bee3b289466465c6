"""K: one delay per antenna and receptor per time cell and SPW (ns).

Statistics are accumulated per channel; StEFCal gives per-channel gains referenced to the
reference antenna; each antenna's delay is the peak of a coarse delay search (the Fourier
transform of its gains over frequency), refined by a weighted least-squares fit of the phase
slope. K = diag(exp(2 pi i tau (nu - nu0))), nu0 the SPW's centre frequency; the jones dataset
holds K on every channel of the SPW.
"""

from __future__ import annotations

import numpy as np

from alakazam.engine.accumulate import CellStats
from alakazam.engine.config import FreqInterval
from alakazam.engine.grid import Axis, freq_cells
from alakazam.engine.jones import delay_phasor, diagonal
from alakazam.engine.solution import Solution, reference
from alakazam.engine.solvers.common import antenna_reason, stefcal
from alakazam.engine.solvers.stefcal import LOW_SNR, NO_DATA, OK

_OVERSAMPLE = 8  # coarse delay grid: this many points per 1/bandwidth


class DelaySolver:
    statistics = CellStats

    def freq_axis(self, spw, step) -> Axis:
        """K accumulates per channel: the delay is a slope across the SPW."""
        return freq_cells(spw.freqs, spw.widths, FreqInterval("1", channels=1))

    def solve(self, stats, taxis: Axis, faxis: Axis, spw, step, settings, header) -> Solution:
        gains, snr, reason = stefcal(stats, settings, phase_only=False)  # (n_tc, n_chan, 2, n_ant)
        ant_reason = antenna_reason(reason)
        gains, _ = reference(gains, ant_reason == OK, settings.ref_order)
        good = (reason == OK)
        weight = np.where(good, snr**2, 0.0)
        freqs = np.asarray(spw.freqs, float)
        nu0 = float(np.mean(freqs))
        delay_ns = fit_delays(gains, weight, freqs - nu0)  # (n_tc, 2, n_ant)
        k_snr = np.sqrt(weight.sum(axis=1))  # (n_tc, 2, n_ant)
        n_good = good.sum(axis=1)
        k_reason = np.where(n_good < 2, NO_DATA, np.where(k_snr < settings.min_snr, LOW_SNR, OK))
        # where no channel was good, keep the per-channel reason that explains it
        first_bad = reason.max(axis=1)
        k_reason = np.where((n_good == 0) & (first_bad != OK), first_bad, k_reason)
        per_ant_reason = antenna_reason(k_reason[:, None])[:, 0]  # (n_tc, n_ant)
        flags = per_ant_reason != OK
        # re-reference delays per cell: the first good antenna of ref_order gets zero delay
        ranked = (~flags)[:, settings.ref_order]
        ref = np.where(ranked.any(axis=1), settings.ref_order[ranked.argmax(axis=1)], -1)
        delay_ns = delay_ns - np.take_along_axis(delay_ns, np.maximum(ref, 0)[:, None, None],
                                                 axis=2) * (ref >= 0)[:, None, None]
        delay_ns = np.where(flags[:, None, :], 0.0, delay_ns)
        delay = np.moveaxis(delay_ns, 1, -1)  # (n_tc, n_ant, 2)
        phasor = delay_phasor(delay, freqs, nu0)  # (n_chan, n_tc, n_ant, 2)
        n_chan = len(freqs)
        chan_axis = freq_cells(freqs, spw.widths, FreqInterval("1", channels=1))
        snr_k = np.broadcast_to(np.moveaxis(k_snr, 1, -1)[:, None], (len(taxis.centres), n_chan)
                                + delay.shape[1:])
        return Solution(
            **header, time=taxis.centres, time_bounds=taxis.bounds, freq=chan_axis.centres,
            freq_bounds=chan_axis.bounds, jones=diagonal(np.moveaxis(phasor, 0, 1)),
            flags=np.repeat(flags[:, None], n_chan, axis=1),
            reason=np.repeat(per_ant_reason[:, None], n_chan, axis=1),
            snr=np.ascontiguousarray(snr_k), ref_ant_used=np.repeat(ref[:, None], n_chan, axis=1),
            native={"delay": delay})


def fit_delays(gains: np.ndarray, weight: np.ndarray, dnu: np.ndarray) -> np.ndarray:
    """Delays (ns) (n_tc, 2, n_ant) of per-channel gains (n_tc, n_chan, 2, n_ant) with
    weights (same shape, 0 = unusable) at frequency offsets dnu (n_chan,) Hz from nu0."""
    span = np.ptp(dnu) if len(dnu) > 1 else 1.0
    step = np.median(np.abs(np.diff(dnu))) if len(dnu) > 1 else 1.0
    max_delay = 0.5 / step  # s: the unambiguous range of the channel spacing
    n_grid = max(16, int(np.ceil(2 * max_delay * span * _OVERSAMPLE)))
    grid = np.linspace(-max_delay, max_delay, n_grid)
    wg = weight * gains
    search = np.exp(-2j * np.pi * grid[:, None] * dnu[None, :])  # (n_grid, n_chan)
    power = np.abs(np.einsum("gc,tcha->tgha", search, wg))
    tau = grid[np.argmax(power, axis=1)]  # (n_tc, 2, n_ant) s
    for _ in range(3):  # refine: weighted linear fit of the residual phase
        rot = wg * np.exp(-2j * np.pi * tau[:, None] * dnu[:, None, None])
        mean = rot.sum(axis=1, keepdims=True)
        phase = np.angle(rot * np.conj(mean) / np.maximum(np.abs(mean), 1e-300))
        w = weight
        sw = np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
        x = dnu[:, None, None]
        xm = (w * x).sum(axis=1, keepdims=True) / sw
        pm = (w * phase).sum(axis=1, keepdims=True) / sw
        sxx = (w * (x - xm) ** 2).sum(axis=1)
        sxp = (w * (x - xm) * (phase - pm)).sum(axis=1)
        tau = tau + np.where(sxx > 0, sxp / np.maximum(sxx, 1e-300), 0.0) / (2 * np.pi)
    return tau * 1e9
