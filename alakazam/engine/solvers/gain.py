"""G: diagonal complex gains (amplitude and phase, or phase only) per time/frequency cell.
With a per-channel frequency interval it is a bandpass; `B` is G whose default frequency
interval is one channel."""

from __future__ import annotations

import numpy as np

from alakazam.engine.accumulate import CellStats
from alakazam.engine.config import FreqInterval
from alakazam.engine.grid import Axis, freq_cells
from alakazam.engine.jones import diagonal
from alakazam.engine.solution import Solution, reference
from alakazam.engine.solvers.common import antenna_reason, stefcal
from alakazam.engine.solvers.stefcal import OK


class GainSolver:
    statistics = CellStats

    def __init__(self, per_channel_default: bool):
        self.per_channel_default = per_channel_default

    def freq_axis(self, spw, step) -> Axis:
        """Frequency cells of the statistics: those of the step's freq_interval (one channel
        each for B when the interval is `full`)."""
        interval = step.freq_interval
        if self.per_channel_default and interval.full:
            interval = FreqInterval("1", channels=1)
        return freq_cells(spw.freqs, spw.widths, interval)

    def solve(self, stats, taxis: Axis, faxis: Axis, spw, step, settings, header) -> Solution:
        gains, snr, reason = stefcal(stats, settings, step.phase_only)
        ant_reason = antenna_reason(reason)  # (n_tc, n_fc, n_ant)
        gains, ref_used = reference(gains, ant_reason == OK, settings.ref_order)
        flags = ant_reason != OK
        gains = np.where(flags[:, :, None, :], 1.0 + 0j, gains)
        per_receptor = np.moveaxis(gains, 2, -1)  # (n_tc, n_fc, n_ant, 2)
        return Solution(
            **header, time=taxis.centres, time_bounds=taxis.bounds, freq=faxis.centres,
            freq_bounds=faxis.bounds, jones=diagonal(per_receptor), flags=flags,
            reason=ant_reason, snr=np.moveaxis(snr, 2, -1), ref_ant_used=ref_used,
            native={"gain": per_receptor})
