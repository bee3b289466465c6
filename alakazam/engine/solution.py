"""A solution table in memory: one Jones type, one field, one SPW, on its time/frequency grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Solution:
    """Solutions of one Jones type for one field and SPW.

    time: (n_t,) MJD s; time_bounds: (n_t, 2); freq: (n_f,) Hz; freq_bounds: (n_f, 2);
    jones: (n_t, n_f, n_ant, 2, 2) complex128; flags: (n_t, n_f, n_ant) bool (True = no valid
    solution); reason: (n_t, n_f, n_ant) uint8 (solvers.REASONS); snr: (n_t, n_f, n_ant, 2);
    ref_ant_used: (n_t, n_f) int (-1 where no antenna could serve); native: the type's own
    parameters (e.g. delay (n_t, n_ant, 2) ns, gain (n_t, n_f, n_ant, 2)); attrs: provenance
    and settings stored as HDF5 attributes.
    """

    jones_type: str
    field_id: int
    field_name: str
    field_ra: float
    field_dec: float
    spw_id: int
    time: np.ndarray
    time_bounds: np.ndarray
    freq: np.ndarray
    freq_bounds: np.ndarray
    jones: np.ndarray
    flags: np.ndarray
    reason: np.ndarray
    snr: np.ndarray
    ref_ant_used: np.ndarray
    native: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    @property
    def n_ant(self) -> int:
        return self.jones.shape[2]


def reference(gains: np.ndarray, ok: np.ndarray, order: np.ndarray):
    """Rotate gains (n_tc, n_fc, 2, n_ant) so that, in each cell, the first antenna of `order`
    with a good solution (ok (n_tc, n_fc, n_ant)) has zero phase on each receptor.
    Returns (referenced gains, ref_ant_used (n_tc, n_fc), -1 where no antenna is good)."""
    ranked = ok[..., order]
    has = ranked.any(axis=-1)
    ref = np.where(has, order[ranked.argmax(axis=-1)], -1)
    g_ref = np.take_along_axis(gains, np.maximum(ref, 0)[:, :, None, None], axis=-1)
    phasor = np.where(has[:, :, None, None] & (np.abs(g_ref) > 0),
                      np.conj(g_ref) / np.maximum(np.abs(g_ref), 1e-300), 1.0)
    return gains * phasor, ref
