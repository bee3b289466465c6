"""The model visibilities of a solve or of `alakazam setjy`, computed instead of read.

A ModelSpec (config.py) becomes, for one field and SPW, a FieldModel: point sources with
their Stokes spectra over the SPW's channels, evaluated per block of rows by the numba kernel
rime.predict (a source at the phase centre needs no UVW). A column model stays a column name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alakazam.engine import fluxstandards, rime
from alakazam.engine.config import ModelSpec
from alakazam.engine.errors import InputError
from alakazam.engine.jones import brightness
from alakazam.engine.msmeta import Field, MSMeta
from alakazam.engine.sky import PointSource, direction_cosines

ARCSEC = np.pi / (180 * 3600)


@dataclass(frozen=True, eq=False)
class FieldModel:
    """Point sources of one field's model over one SPW. label: what it is (provenance);
    lmn: (n_src, 3) direction cosines, third column n - 1; bright: (n_src, n_chan, 4) complex
    Jy, the flattened coherency matrices in the feed basis."""

    label: str
    lmn: np.ndarray
    bright: np.ndarray

    def visibilities(self, uvw: np.ndarray, freqs: np.ndarray, slots) -> np.ndarray:
        """(n_row, n_chan, n_corr) complex64 at uvw (n_row, 3) m, freqs (n_chan,) Hz, for the
        correlations at flattened 2x2 positions `slots`. Sources all at the phase centre give
        the same visibilities on every row: a read-only view of one row (no memory)."""
        shape = (len(uvw), len(freqs), len(slots))
        if not self.lmn.any():
            row = self.bright[:, :, list(slots)].sum(axis=0).astype(np.complex64)
            return np.broadcast_to(row, shape)
        out = np.zeros(shape, np.complex64)
        rime.predict(np.ascontiguousarray(uvw, float), np.asarray(freqs, float), self.lmn,
                     self.bright, np.asarray(slots, np.int64), out)
        return out


def field_model(spec: ModelSpec, meta: MSMeta, fld: Field, spw_id: int) -> FieldModel | None:
    """The model of field `fld` over SPW `spw_id`, or None for a column model.
    InputError when a standard does not know the field or does not cover the SPW."""
    if spec.column is not None:
        return None
    freqs = meta.spws[spw_id].freqs
    if spec.standard is not None:
        source = fluxstandards.identify(fld.name, fld.ra, fld.dec)
        if source is None:
            raise InputError(f"field {fld.name} is not a calibrator {spec.standard} knows (by "
                             "name, or within 5 arcsec of one); give it a point-source model "
                             "(flux_jy or stokes; setjy --flux) or MODEL_DATA")
        try:
            stokes = fluxstandards.stokes(spec.standard, source, freqs,
                                          fluxstandards.decimal_year(np.mean(meta.time_range)),
                                          spec.polarised)
        except InputError as exc:
            raise InputError(f"field {fld.name}, SPW {spw_id}: {exc}") from None
        label = f"{source} ({spec.standard}{'' if spec.polarised else ', unpolarised'})"
        lmn = np.zeros((1, 3))
    else:
        east, north = (v * ARCSEC for v in spec.offset)
        src = PointSource(fld.ra + east / np.cos(fld.dec), fld.dec + north, spec.stokes,
                          spec.ref_freq, spec.spix)
        stokes = src.flux(freqs)
        label = spec.describe()
        lmn = direction_cosines([src], fld.ra, fld.dec) if any(spec.offset) else np.zeros((1, 3))
    stokes = stokes[None]
    bright = brightness(stokes, meta.basis).reshape(stokes.shape[:2] + (4,))
    return FieldModel(label, np.ascontiguousarray(lmn), np.ascontiguousarray(bright))
