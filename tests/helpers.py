"""Helpers for tests: predicting what DATA must hold from a simulation's saved truth."""

from __future__ import annotations

import numpy as np

from alakazam.engine import rime
from alakazam.engine.msread import VisBlock, from_matrix
from alakazam.engine.simulate.truth import Truth
from alakazam.engine.sky import PointSource, coherencies, direction_cosines


def expected_data(truth: Truth, block: VisBlock, which: str = "true", corrupt: bool = True):
    """J_p V J_q^H (n_row, n_chan, n_corr) for the rows of `block`, V predicted from the truth's
    `which` ("true" or "model") sources of each field, with the block's UVW."""
    freqs = truth.freqs[block.spw_id]
    times, tslot = block.time_slots()
    tidx = np.searchsorted(truth.times, times)
    assert np.allclose(truth.times[tidx], times)
    jones = truth.jones(block.spw_id, tidx)
    vis = np.zeros((block.n_row, len(freqs), 2, 2), complex)
    for fid in np.unique(block.field):
        rows = np.flatnonzero(block.field == fid)
        fdef = truth.fields[fid]
        srcs = [PointSource(**s) for s in fdef[which]]
        part = np.zeros((len(rows), len(freqs), 2, 2), complex)
        rime.predict_points(np.ascontiguousarray(block.uvw[rows]), freqs,
                            direction_cosines(srcs, fdef["ra"], fdef["dec"]),
                            coherencies(srcs, freqs, truth.basis), part)
        vis[rows] = part
    if corrupt:
        out = np.empty_like(vis)
        rime.sandwich(jones, vis, tslot, block.ant1, block.ant2, out)
        vis = out
    return from_matrix(vis, block.slots)
