"""The chain of solutions applied before a solve: field selection, interpolation, correction.

Each term of the chain is a set of Solutions of one Jones type (per field and SPW) with a
field-selection rule and an interpolation mode. For the rows of a block, the chain's Jones
matrices are interpolated at the block's times and channels, composed as CONVENTIONS.md says
(diagonal terms, then leakage: J = diag . D, then P when the parallactic rotation is applied),
and the data are corrected: V_corr = J_p^-1 V J_q^-H, weights scaled accordingly, and samples
whose solution is flagged are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alakazam.engine import geometry, rime
from alakazam.engine.errors import InputError
from alakazam.engine.interp import interpolate
from alakazam.engine.jones import parallactic
from alakazam.engine.msread import VisBlock
from alakazam.engine.solution import Solution


@dataclass
class ChainTerm:
    """solutions: every Solution of the term; field_select: nearest_time, nearest_sky, pinned,
    or same_field (the solved field's own solutions when present, else nearest_time);
    provenance: what the HDF5 preapply_chain records for this term."""

    solutions: list[Solution]
    field_select: str
    time_interp: str
    provenance: dict
    solution_field: str | None = None
    _merged: dict = field(default_factory=dict)

    def pick(self, spw_id: int, field_name: str, ra: float, dec: float) -> Solution:
        """The Solution to apply to data of `field_name` (at ra, dec rad) in SPW `spw_id`."""
        cands = [s for s in self.solutions if s.spw_id == spw_id]
        label = self.provenance.get("table", f"step {self.provenance.get('step')}")
        if not cands:
            raise InputError(f"{label}: no {self.provenance['jones']} solutions for SPW {spw_id}")
        mode = self.field_select
        if mode == "same_field":
            same = [s for s in cands if s.field_name == field_name]
            if same:
                return same[0]
            mode = "nearest_time"
        if mode == "pinned":
            pinned = [s for s in cands if s.field_name == str(self.solution_field)]
            if not pinned:
                raise InputError(f"{label}: no solutions for field {self.solution_field!r} "
                                 f"(fields: {', '.join(sorted({s.field_name for s in cands}))})")
            return pinned[0]
        if mode == "nearest_sky":
            return min(cands, key=lambda s: _separation(s.field_ra, s.field_dec, ra, dec))
        if spw_id not in self._merged:
            self._merged[spw_id] = _merge_in_time(cands, label)
        return self._merged[spw_id]


def _separation(ra1, dec1, ra2, dec2) -> float:
    return float(np.arccos(np.clip(np.sin(dec1) * np.sin(dec2)
                                   + np.cos(dec1) * np.cos(dec2) * np.cos(ra1 - ra2), -1, 1)))


def _merge_in_time(sols: list[Solution], label: str) -> Solution:
    """The solutions of several fields as one time series (nearest_time across fields)."""
    if len(sols) == 1:
        return sols[0]
    if len({s.jones.shape[1:] for s in sols}) != 1:
        raise InputError(f"{label}: fields have different frequency grids; nearest_time cannot "
                         "merge them (use pinned or nearest_sky)")
    order = np.argsort(np.concatenate([s.time for s in sols]), kind="stable")

    def cat(name):
        return np.concatenate([getattr(s, name) for s in sols])[order]

    first = sols[0]
    return Solution(first.jones_type, -1, "+".join(s.field_name for s in sols), first.field_ra,
                    first.field_dec, first.spw_id, cat("time"), cat("time_bounds"), first.freq,
                    first.freq_bounds, cat("jones"), cat("flags"), cat("reason"), cat("snr"),
                    cat("ref_ant_used"))


def chain_parts(terms: list[ChainTerm], spw_id: int, field_name: str, ra: float, dec: float,
                times: np.ndarray, freqs: np.ndarray, n_ant: int):
    """The chain at times (n_T,) and freqs (n_C,) as CONVENTIONS.md composes it, whatever the
    order of its terms: (diag, leak, flags) with diag the product of the diagonal terms (K, G,
    B, Xf, Kcross; they commute) and leak the product of the D terms in chain order (None when
    there is none), each (n_T, n_C, n_ant, 2, 2), and the union of all flags (n_T, n_C, n_ant).
    The antenna Jones matrix is diag . leak (. P)."""
    shape = (len(times), len(freqs), n_ant, 2, 2)
    diag = np.broadcast_to(np.eye(2, dtype=np.complex128), shape).copy()
    leak = None
    flags = np.zeros(shape[:3], bool)
    for term in terms:
        sol = term.pick(spw_id, field_name, ra, dec)
        if sol.n_ant != n_ant:
            raise InputError(f"{term.provenance.get('table', 'chain')}: solutions for "
                             f"{sol.n_ant} antennas, the MS has {n_ant}")
        j, f = interpolate(sol, times, freqs, term.time_interp)
        if sol.jones_type == "D":
            if leak is None:
                leak = j
            else:
                rime.multiply(leak, j, leak)
        else:
            rime.multiply(diag, j, diag)
        flags |= f
    return diag, leak, flags


def chain_jones(terms: list[ChainTerm], spw_id: int, field_name: str, ra: float, dec: float,
                times: np.ndarray, freqs: np.ndarray, n_ant: int):
    """The chain's antenna Jones matrices diag . leak (n_T, n_C, n_ant, 2, 2) (see
    chain_parts) and their flags (n_T, n_C, n_ant)."""
    diag, leak, flags = chain_parts(terms, spw_id, field_name, ra, dec, times, freqs, n_ant)
    if leak is not None:
        rime.multiply(diag, leak, diag)
    return diag, flags


def parang_jones(meta, fld, times: np.ndarray) -> np.ndarray:
    """P (n_T, n_ant, 2, 2) of each antenna towards field `fld` at `times` (n_T,) MJD s: the
    parallactic angle plus the FEED table's receptor angle, in the MS's feed basis."""
    chi = geometry.parallactic_angles(times, fld.ra, fld.dec, meta.antennas.positions)
    return parallactic(chi + meta.receptor_angles[None, :, 0], meta.basis)


def correct(block: VisBlock, column: str, jones: np.ndarray, jflags: np.ndarray,
            tslot: np.ndarray, weights: bool = True, out: tuple | None = None):
    """J_p^-1 V J_q^-H of `column`: (vis (n_row, n_chan, n_corr) complex, weight, flag), new
    arrays or the given `out` (vis, flag) (the block itself is not modified: it may be
    shared). Weights are rescaled by the correction (None when `weights` is False); samples
    under flagged or singular Jones are flagged. jones, jflags: the chain at the block's
    distinct times (indexed by tslot (n_row,)) and its channels."""
    inverse, bad = rime.invert(jones, jflags)
    vis, flag = out if out is not None else (np.empty_like(block.vis[column]),
                                             np.empty_like(block.flag))
    slots = np.asarray(block.slots, np.int64)
    rime.correct_rows(inverse, bad, block.vis[column], block.flag, slots, tslot, block.ant1,
                      block.ant2, vis, flag)
    weight = None
    if weights:
        weight = np.array(block.weight, dtype=np.float32)
        rime.scale_weights(jones, bad, weight, tslot, block.ant1, block.ant2, slots)
    return vis, weight, flag
