"""The solution grid: time cells from a time interval, frequency cells from a frequency interval.

Time cells never straddle scans unless the interval is infinite; each cell's time is the mean
of its integrations and its bounds are the edges of its first and last integration. Times MJD s,
frequencies Hz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alakazam.engine.config import FreqInterval, TimeInterval


@dataclass(frozen=True)
class Axis:
    """Cells along one axis. index: (n_sample,) cell of each sample (time slot or channel);
    centres: (n_cell,); bounds: (n_cell, 2) lower and upper edges."""

    index: np.ndarray
    centres: np.ndarray
    bounds: np.ndarray

    @property
    def n(self) -> int:
        return len(self.centres)


def time_cells(times: np.ndarray, scans: np.ndarray, interval: TimeInterval,
               integration: float) -> Axis:
    """Cells over distinct sorted `times` (n_slot,) MJD s observed in `scans` (n_slot,)."""
    if math.isinf(interval.seconds):
        index = np.zeros(len(times), dtype=np.int64)
    elif interval.seconds <= 0:
        index = np.arange(len(times), dtype=np.int64)
    else:
        new_scan = np.r_[True, scans[1:] != scans[:-1]]
        scan_start = times[np.maximum.accumulate(np.where(new_scan, np.arange(len(times)), 0))]
        slot = np.floor((times - scan_start) / interval.seconds + 1e-9).astype(np.int64)
        key = np.cumsum(new_scan) * (slot.max() + 1 if len(slot) else 1) + slot
        index = np.unique(key, return_inverse=True)[1].astype(np.int64)
    return _axis(index, times, np.full(len(times), integration))


def freq_cells(freqs: np.ndarray, widths: np.ndarray, interval: FreqInterval) -> Axis:
    """Cells over the channels `freqs`, `widths` (n_chan,) Hz of one SPW, in channel order."""
    n_chan = len(freqs)
    if interval.full:
        per_cell = n_chan
    elif interval.channels is not None:
        per_cell = interval.channels
    else:
        per_cell = max(1, int(round(interval.hz / max(np.median(np.abs(widths)), 1e-30))))
    index = np.arange(n_chan, dtype=np.int64) // per_cell
    return _axis(index, freqs, np.abs(widths))


def _axis(index, values, widths) -> Axis:
    n = int(index.max()) + 1 if len(index) else 0
    counts = np.bincount(index, minlength=n)
    centres = np.bincount(index, weights=values, minlength=n) / np.maximum(counts, 1)
    lower = np.full(n, np.inf)
    upper = np.full(n, -np.inf)
    np.minimum.at(lower, index, values - widths / 2)
    np.maximum.at(upper, index, values + widths / 2)
    return Axis(index, centres, np.stack([lower, upper], axis=1))
