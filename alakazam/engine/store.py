"""Solutions in HDF5, in the design's layout (plus SPEC additions).

    /attrs: alakazam_version, format_version, created_utc, ms, ref_ant
    /<JONES>/field_<name>/spw_<id>/
        jones (n_t, n_f, n_ant, 2, 2) complex128, time (n_t,) MJD s, freq (n_f,) Hz,
        flags (n_t, n_f, n_ant) bool, snr (n_t, n_f, n_ant, 2), ref_ant_used (n_t, n_f) int,
        reason (n_t, n_f, n_ant) uint8, time_bounds (n_t, 2), freq_bounds (n_f, 2),
        native parameters (K: delay (n_t, n_ant, 2) ns; G/B: gain (n_t, n_f, n_ant, 2))
        attrs: jones_type, field_name, field_id, field_ra_rad, field_dec_rad, spw_id, scan_ids,
               ref_ant, time_interval, freq_interval, phase_only, preapply_chain (JSON), ...

Writers work on a temporary file which `commit` renames over the output: a file at the output
path is either the previous complete one or the new complete one.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import h5py
import numpy as np

from alakazam import __version__
from alakazam.engine.casatable import caltable_attrs, is_caltable, read_caltable
from alakazam.engine.errors import InputError, check_output
from alakazam.engine.solformats import h5parm_attrs, is_h5parm, read_h5parm
from alakazam.engine.solution import Solution

FORMAT_VERSION = 1
_CORE = ("time", "time_bounds", "freq", "freq_bounds", "jones", "flags", "reason", "snr",
         "ref_ant_used")


class SolutionWriter:
    """Writes solution groups to `output` through a temporary file; `commit()` renames it into
    place, `abort()` removes it. Use as a context manager: an exception aborts."""

    def __init__(self, output: str, root_attrs: dict):
        self.output = output
        self.tmp = f"{output}.partial-{os.getpid()}"
        check_output(output)
        self.h5 = h5py.File(self.tmp, "w")
        self.h5.attrs.update({"alakazam_version": __version__, "format_version": FORMAT_VERSION,
                              "created_utc": datetime.now(timezone.utc).isoformat(),
                              **{k: _attr(v) for k, v in root_attrs.items()}})

    def write(self, sol: Solution) -> None:
        group = self.h5.require_group(f"{sol.jones_type}/field_{sol.field_name}/spw_{sol.spw_id}")
        for name in _CORE:
            group.create_dataset(name, data=np.asarray(getattr(sol, name)))
        for name, value in sol.native.items():
            group.create_dataset(name, data=np.asarray(value))
        group.attrs.update({"jones_type": sol.jones_type, "field_name": sol.field_name,
                            "field_id": sol.field_id, "field_ra_rad": sol.field_ra,
                            "field_dec_rad": sol.field_dec, "spw_id": sol.spw_id})
        group.attrs.update({k: _attr(v) for k, v in sol.attrs.items()})
        self.h5.flush()

    def commit(self) -> None:
        self.h5.close()
        os.replace(self.tmp, self.output)

    def abort(self) -> None:
        if self.h5.id.valid:
            self.h5.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False


def _attr(value):
    """HDF5 attributes: scalars and strings as they are, anything else as JSON."""
    if isinstance(value, (str, int, float, bool, np.integer, np.floating, np.bool_)):
        return value
    return json.dumps(value)


def read_solutions(path: str, jones_type: str | None = None,
                   spw_freqs: dict | None = None) -> list[Solution]:
    """Every solution group of the file (of one Jones type if given); `path` may also be a
    CASA caltable (casatable.read_caltable) or an H5Parm (solformats.read_h5parm); spw_freqs
    {SPW id: channel freqs Hz} of the MS they are used on places their delays and SPWs."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    if is_caltable(path):
        return read_caltable(path, jones_type, spw_freqs)
    if is_h5parm(path):
        return read_h5parm(path, jones_type, spw_freqs)
    try:
        h5 = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path}: not an HDF5 file") from None
    out = []
    with h5:
        if "format_version" not in h5.attrs:
            raise InputError(f"{path}: not an ALAKAZAM solution file (no format_version)")
        for jtype in h5:
            if jtype == "fluxscale" or (jones_type is not None and jtype != jones_type):
                continue
            for fname in h5[jtype]:
                for sname in h5[jtype][fname]:
                    out.append(_read_group(h5[jtype][fname][sname]))
    return out


def file_attrs(path: str) -> dict:
    """The root attributes of a solution file (ms, antenna_names as JSON, feed_basis, ...), or
    what a CASA caltable or an H5Parm says of the same."""
    if is_caltable(path):
        return caltable_attrs(path)
    if is_h5parm(path):
        return h5parm_attrs(path)
    with h5py.File(path, "r") as h5:
        return dict(h5.attrs)


def _read_group(group) -> Solution:
    attrs = dict(group.attrs)
    header = {"jones_type": str(attrs.pop("jones_type")), "field_id": int(attrs.pop("field_id")),
              "field_name": str(attrs.pop("field_name")),
              "field_ra": float(attrs.pop("field_ra_rad")),
              "field_dec": float(attrs.pop("field_dec_rad")), "spw_id": int(attrs.pop("spw_id"))}
    core = {name: group[name][()] for name in _CORE}
    native = {name: group[name][()] for name in group if name not in _CORE}
    return Solution(**header, **core, native=native, attrs=attrs)
