"""Point-source sky models: Stokes flux densities with a power-law spectrum.

S(nu) = S0 (nu / nu0) ** spix for every Stokes parameter (fractional polarisation is constant
across the band). Flux densities in Jy, frequencies Hz, positions J2000 radians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alakazam.engine import rime
from alakazam.engine.jones import brightness


@dataclass(frozen=True)
class PointSource:
    """stokes: (I, Q, U, V) Jy at ref_freq Hz; ra, dec: J2000 rad."""

    ra: float
    dec: float
    stokes: tuple[float, float, float, float]
    ref_freq: float
    spix: float = 0.0

    def flux(self, freqs: np.ndarray) -> np.ndarray:
        """Stokes (n_chan, 4) Jy at freqs (n_chan,) Hz."""
        scale = (np.asarray(freqs, float) / self.ref_freq) ** self.spix
        return scale[:, None] * np.asarray(self.stokes, float)[None, :]


def coherencies(sources: list[PointSource], freqs: np.ndarray, basis: str) -> np.ndarray:
    """Brightness matrices (n_src, n_chan, 2, 2) complex Jy of `sources` at freqs (n_chan,) Hz."""
    if not sources:
        return np.zeros((0, len(freqs), 2, 2), dtype=np.complex128)
    return brightness(np.stack([s.flux(freqs) for s in sources]), basis)


def direction_cosines(sources: list[PointSource], ra0: float, dec0: float) -> np.ndarray:
    """(l, m, n - 1) (n_src, 3) of each source relative to the phase centre (ra0, dec0) rad."""
    ra = np.array([s.ra for s in sources], float)
    dec = np.array([s.dec for s in sources], float)
    d_ra = ra - ra0
    l = np.cos(dec) * np.sin(d_ra)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(d_ra)
    n = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(d_ra)
    return np.stack([l, m, n - 1], axis=-1).reshape(-1, 3)


def point_visibilities(sources: list[PointSource], ra0: float, dec0: float, uvw: np.ndarray,
                       freqs: np.ndarray, basis: str) -> np.ndarray:
    """Visibilities (n_row, n_chan, 2, 2) complex Jy of `sources` seen from the phase centre
    (ra0, dec0) rad, at uvw (n_row, 3) m and freqs (n_chan,) Hz."""
    out = np.zeros((len(uvw), len(freqs), 4), complex)
    if sources:
        bright = coherencies(sources, freqs, basis).reshape(len(sources), len(freqs), 4)
        rime.predict(np.ascontiguousarray(uvw, float), np.asarray(freqs, float),
                     direction_cosines(sources, ra0, dec0), bright, np.arange(4), out)
    return out.reshape(len(uvw), len(freqs), 2, 2)
