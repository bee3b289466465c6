"""The Jones terms and sky a simulation injected: saved beside the MS, evaluated on demand.

Files: OUT.ms.truth.npz (arrays) and OUT.ms.truth.json (scalars, fields, options).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from alakazam.engine import jones as jm
from alakazam.engine import rime
from alakazam.engine.sky import PointSource, point_visibilities

TERMS = ("K", "G", "B", "D", "Xf", "Kcross")


@dataclass
class Truth:
    """What was injected.

    basis: LINEAR or CIRCULAR; terms: enabled Jones terms (subset of TERMS; P always);
    times: (n_t,) MJD s, the distinct times; time_field: (n_t,) field id observed at each;
    freqs: (n_spw, n_chan) Hz; gains: (n_t, n_ant, 2) complex G;
    bandpass: (n_spw, n_chan, n_ant, 2) complex; delays: (n_ant, 2) ns, K referenced to each
    SPW's centre frequency; leakage: (n_spw, n_chan, n_ant, 2) complex (d_pq, d_qp);
    xf_phase: (n_spw,) rad;
    kcross_delay: ns; chi: (n_t, n_ant) rad, parallactic plus receptor angle;
    sigma: noise per real/imaginary part, Jy (0 = noiseless); fields: list of dicts with
    name, ra, dec (rad), role, true and model sources (stokes Jy at ref_freq Hz, spix, ra, dec).
    """

    basis: str
    terms: tuple[str, ...]
    times: np.ndarray
    time_field: np.ndarray
    freqs: np.ndarray
    gains: np.ndarray
    bandpass: np.ndarray
    delays: np.ndarray
    leakage: np.ndarray
    xf_phase: np.ndarray
    kcross_delay: float
    chi: np.ndarray
    sigma: float
    fields: list = field(default_factory=list)
    options: dict = field(default_factory=dict)

    _ARRAYS = ("times", "time_field", "freqs", "gains", "bandpass", "delays", "leakage",
               "xf_phase", "chi")

    def spw_centre(self, spw: int) -> float:
        """Centre frequency (Hz) of SPW `spw`: the nu0 of its K and Kcross terms."""
        return float(np.mean(self.freqs[spw]))

    def diagonal(self, spw: int, tslots=slice(None)) -> np.ndarray:
        """Product of the diagonal terms (n_t, n_chan, n_ant, 2) complex for SPW `spw` at
        time indices `tslots` (into `times`)."""
        freqs, nu0 = self.freqs[spw], self.spw_centre(spw)
        gains = self.gains[tslots]
        out = np.ones((gains.shape[0], len(freqs)) + gains.shape[1:], dtype=np.complex128)
        out *= gains[:, None]
        out *= self.bandpass[spw][None]
        out *= jm.delay_phasor(self.delays, freqs, nu0)[None]
        out[..., 1] *= np.exp(1j * self.xf_phase[spw])
        out[..., 1] *= jm.delay_phasor(self.kcross_delay, freqs, nu0)[None, :, None]
        return out

    def jones(self, spw: int, tslots=slice(None)) -> np.ndarray:
        """Full antenna Jones J = diag . D . P (n_t, n_chan, n_ant, 2, 2) for SPW `spw` at
        time indices `tslots`."""
        diag = jm.diagonal(self.diagonal(spw, tslots))
        leak = jm.leakage(self.leakage[spw, ..., 0], self.leakage[spw, ..., 1])  # (n_chan, ...)
        rot = jm.parallactic(self.chi[tslots], self.basis)  # (n_t, n_ant, 2, 2)
        return diag @ leak[None] @ rot[:, None]

    def visibilities(self, block, which: str = "true", corrupt: bool = True) -> np.ndarray:
        """What the rows of a VisBlock hold by construction: (J_p) V (J_q^H) with V predicted
        from each field's `which` sources ("true" or "model") at the block's UVW;
        (n_row, n_chan, n_corr) complex in the block's correlation order."""
        from alakazam.engine.msread import from_matrix

        freqs = self.freqs[block.spw_id]
        times, tslot = block.time_slots()
        vis = np.zeros((block.n_row, len(freqs), 2, 2), complex)
        for fid in np.unique(block.field):
            rows = np.flatnonzero(block.field == fid)
            fdef = self.fields[fid]
            vis[rows] = point_visibilities([PointSource(**s) for s in fdef[which]], fdef["ra"],
                                           fdef["dec"], block.uvw[rows], freqs, self.basis)
        if corrupt:
            jones = self.jones(block.spw_id, np.searchsorted(self.times, times))
            rime.sandwich(jones, vis, tslot, block.ant1, block.ant2, vis)
        return from_matrix(vis, block.slots)

    def save(self, ms_path: str) -> None:
        """Write ms_path.truth.npz and ms_path.truth.json (each through a temporary name)."""
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        meta = {k: v for k, v in asdict(self).items() if k not in self._ARRAYS}
        meta["terms"] = list(self.terms)
        tmp = f"{ms_path}.truth.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, f"{ms_path}.truth.npz")
        with open(f"{ms_path}.truth.tmp.json", "w") as fh:
            json.dump(meta, fh, indent=1)
        os.replace(f"{ms_path}.truth.tmp.json", f"{ms_path}.truth.json")

    @classmethod
    def load(cls, ms_path: str) -> "Truth":
        with open(f"{ms_path}.truth.json") as fh:
            meta = json.load(fh)
        meta["terms"] = tuple(meta["terms"])
        with np.load(f"{ms_path}.truth.npz") as npz:
            arrays = {name: npz[name] for name in cls._ARRAYS}
        return cls(**meta, **arrays)
