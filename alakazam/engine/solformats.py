"""Solutions in the HDF5 formats of other tools, with h5py.

H5Parm (LOFAR's DP3 and LoSoTo): /solset000 with `antenna` (name, position) and `source`
(name, dir) tables and one group per soltab, TITLE its type, holding `val` and `weight`
(time, freq, ant, pol) with their AXES attribute and one dataset per axis (time MJD s, freq Hz,
ant names, pol names). G goes out as `amplitude000` and `phase000` (rad), K as `clock000`
(LoSoTo's name for a delay, in seconds, freq axis of one entry per SPW: its centre). One
field per solset; its SPWs side by side on the freq axis (they must share the time axis).
Read back, each SPW's part of the freq axis becomes its solution again (the SPW found from
the MS's channel frequencies).

SKA GainTable (ska_sdp_datamodels.calibration.GainTable) as a netCDF4-compatible HDF5 file:
dimension scales time, antenna, frequency, receptor1, receptor2; variables gain (time,
antenna, frequency, receptor1, receptor2) complex (stored as an HDF5 compound of r, i, as
h5netcdf reads it), weight (same shape, 0 where flagged), residual (time, frequency,
receptor1, receptor2, zero: not kept by the solvers), interval (time) s, datetime (time)
ISO strings; attributes jones_type, receptor_frame1/2, phasecentre_ra/dec (deg).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import h5py
import numpy as np

from alakazam.engine.errors import InputError, check_output
from alakazam.engine.jones import delay_phasor, diagonal
from alakazam.engine.msmeta import MJD_UNIX_OFFSET_S
from alakazam.engine.solution import Solution

_POLS = {"LINEAR": ("XX", "YY"), "CIRCULAR": ("RR", "LL")}
_RECEPTORS = {"LINEAR": ("X", "Y"), "CIRCULAR": ("R", "L")}


def _one_field(sols: list[Solution], what: str) -> list[Solution]:
    """The solutions of one field, SPWs in order, on one time axis; else InputError."""
    fields = sorted({s.field_name for s in sols})
    if len(fields) != 1:
        raise InputError(f"{what} holds one field: choose one of {', '.join(fields)} with "
                         "--field")
    sols = sorted(sols, key=lambda s: s.spw_id)
    if any(not np.array_equal(s.time, sols[0].time) for s in sols):
        raise InputError(f"{what}: the SPWs of {fields[0]} have different time axes")
    return sols


def _write_tmp(out: str, fill) -> None:
    """Write the HDF5 file `out` through a temporary name with fill(h5file)."""
    if os.path.exists(out):
        raise InputError(f"{out}: exists (choose a new name)")
    check_output(out)
    tmp = f"{out}.partial-{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as h5:
            fill(h5)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_h5parm(sols: list[Solution], out: str, antenna_names, positions, basis: str) -> None:
    """G (amplitude, phase) or K (clock) solutions of one field as the H5Parm `out`."""
    sols = _one_field(sols, out)
    jtype = sols[0].jones_type
    if jtype not in ("G", "K"):
        raise InputError(f"{out}: H5Parm export is for G and K, not {jtype}")

    def fill(h5):
        solset = h5.create_group("solset000")
        solset.attrs["TITLE"] = np.bytes_("solset")
        solset.create_dataset("antenna", data=np.array(
            list(zip(np.array(antenna_names, "S16"), np.asarray(positions, np.float32))),
            dtype=[("name", "S16"), ("position", "<f4", (3,))]))
        solset.create_dataset("source", data=np.array(
            [(np.bytes_(sols[0].field_name), (sols[0].field_ra, sols[0].field_dec))],
            dtype=[("name", "S128"), ("dir", "<f4", (2,))]))
        weight = np.concatenate([~s.flags for s in sols], axis=1)  # (n_t, n_f, n_ant)
        if jtype == "G":
            gains = np.concatenate([np.diagonal(s.jones, axis1=-2, axis2=-1) for s in sols], 1)
            freq = np.concatenate([s.freq for s in sols])
            w = np.repeat(weight[..., None], 2, axis=-1).astype(np.float32)
            _soltab(solset, "amplitude000", "amplitude", np.abs(gains), w, sols[0].time, freq,
                    antenna_names, _POLS[basis])
            _soltab(solset, "phase000", "phase", np.angle(gains), w, sols[0].time, freq,
                    antenna_names, _POLS[basis])
        else:
            delay = np.stack([s.native["delay"] for s in sols], axis=1) * 1e-9  # s
            freq = np.array([np.mean(s.freq) for s in sols])
            w = np.stack([~s.flags[:, 0] for s in sols], axis=1)
            _soltab(solset, "clock000", "clock", delay,
                    np.repeat(w[..., None], 2, axis=-1).astype(np.float32), sols[0].time, freq,
                    antenna_names, _POLS[basis])

    _write_tmp(out, fill)


def _soltab(solset, name, kind, val, weight, time, freq, ants, pols) -> None:
    tab = solset.create_group(name)
    tab.attrs["TITLE"] = np.bytes_(kind)
    axes = np.bytes_("time,freq,ant,pol")
    for key, data in (("val", val), ("weight", weight)):
        tab.create_dataset(key, data=np.asarray(data, np.float64 if key == "val" else np.float32))
        tab[key].attrs["AXES"] = axes
    tab.create_dataset("time", data=np.asarray(time, float))
    tab.create_dataset("freq", data=np.asarray(freq, float))
    tab.create_dataset("ant", data=np.array(ants, "S16"))
    tab.create_dataset("pol", data=np.array(pols, "S2"))


def is_h5parm(path: str) -> bool:
    try:
        with h5py.File(path, "r") as h5:
            return any(k.startswith("solset") for k in h5) and "format_version" not in h5.attrs
    except OSError:
        return False


def h5parm_attrs(path: str) -> dict:
    """What an H5Parm says of itself, as the root attributes of a solution file:
    antenna_names (JSON list), feed_basis (from its pol axis), format."""
    with h5py.File(path, "r") as h5:
        solset = h5[sorted(k for k in h5 if k.startswith("solset"))[0]]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in solset["antenna"]["name"]] if "antenna" in solset else []
        pols = next((solset[k]["pol"][()] for k in solset
                     if isinstance(solset[k], h5py.Group) and "pol" in solset[k]), [b"XX"])
    basis = "CIRCULAR" if pols[0] in (b"RR", "RR") else "LINEAR"
    return {"format": "H5Parm", "antenna_names": json.dumps(names), "feed_basis": basis}


def read_h5parm(path: str, jones_type: str | None, spw_freqs: dict | None) -> list[Solution]:
    """G (from amplitude and phase soltabs) or K (from a clock soltab) solutions of the first
    solset, one per SPW: the part of the freq axis within each SPW's channels of spw_freqs
    (all of it as SPW 0 when not given)."""
    with h5py.File(path, "r") as h5:
        solset = h5[sorted(k for k in h5 if k.startswith("solset"))[0]]
        kinds = {solset[k].attrs["TITLE"].decode() if isinstance(solset[k].attrs.get("TITLE"),
                 bytes) else str(solset[k].attrs.get("TITLE")): solset[k]
                 for k in solset if isinstance(solset[k], h5py.Group)}
        jtype = "K" if "clock" in kinds else "G"
        if jones_type is not None and jones_type != jtype:
            return []
        if jtype == "G" and not {"amplitude", "phase"} <= set(kinds):
            raise InputError(f"{path}: an H5Parm needs amplitude and phase soltabs (or clock)")
        first = kinds["clock" if jtype == "K" else "amplitude"]
        for tab in ([first] if jtype == "K" else [kinds["amplitude"], kinds["phase"]]):
            axes = tab["val"].attrs["AXES"]
            axes = axes.decode() if isinstance(axes, bytes) else str(axes)
            if axes != "time,freq,ant,pol":
                raise InputError(f"{path}: soltab axes {axes}; this version reads "
                                 "time,freq,ant,pol")
        time, freq = first["time"][()], first["freq"][()]
        weight = first["weight"][()].min(axis=-1) > 0  # (n_t, n_f, n_ant)
        if jtype == "G":
            par = kinds["amplitude"]["val"][()] * np.exp(1j * kinds["phase"]["val"][()])
        else:
            par = first["val"][()] * 1e9  # ns
        source = solset["source"][0] if "source" in solset else (b"?", (0.0, 0.0))
    name = source[0].decode() if isinstance(source[0], bytes) else str(source[0])
    groups = _spw_groups(freq, spw_freqs)
    out = []
    for spw, idx in groups.items():
        flags = ~weight[:, idx]
        if jtype == "G":
            diag = np.where(flags[..., None], 1.0, par[:, idx])
            axis, jones, native = freq[idx], diagonal(diag), {"gain": diag}
        else:
            delay = np.where(flags[:, 0, :, None], 0.0, par[:, idx[0]])  # (n_t, n_ant, 2)
            axis = np.asarray(spw_freqs[spw], float) if spw_freqs else freq[idx]
            flags = np.repeat(flags[:, :1], len(axis), axis=1)
            jones = diagonal(np.moveaxis(delay_phasor(delay, axis, float(freq[idx[0]])), 0, 1))
            native = {"delay": delay}
        half = np.full(len(time), np.median(np.diff(time)) / 2 if len(time) > 1 else 0.0)
        width = np.abs(np.median(np.diff(axis))) if len(axis) > 1 else 0.0
        out.append(Solution(
            jones_type=jtype, field_id=-1, field_name=name, field_ra=float(source[1][0]),
            field_dec=float(source[1][1]), spw_id=spw, time=time,
            time_bounds=np.stack([time - half, time + half], axis=1), freq=axis,
            freq_bounds=np.stack([axis - width / 2, axis + width / 2], axis=1), jones=jones,
            flags=flags, reason=flags.astype(np.uint8),
            snr=np.full(flags.shape + (2,), np.nan),  # H5Parm keeps no SNR
            ref_ant_used=np.full((len(time), len(axis)), -1), native=native,
            attrs={"source": "H5Parm", "table": os.path.abspath(path)}))
    return out


def _spw_groups(freq: np.ndarray, spw_freqs: dict | None) -> dict:
    """{SPW id: indices of `freq` within that SPW's channel range}."""
    if not spw_freqs:
        return {0: np.arange(len(freq))}
    groups = {}
    for spw, chans in spw_freqs.items():
        lo, hi = np.min(chans), np.max(chans)
        width = abs(chans[1] - chans[0]) if len(chans) > 1 else 0.0
        idx = np.flatnonzero((freq >= lo - width / 2) & (freq <= hi + width / 2))
        if len(idx):
            groups[spw] = idx
    return groups


def write_gaintable(sols: list[Solution], out: str, antenna_names, basis: str) -> None:
    """One field's solutions (its SPWs side by side in frequency) as an SKA GainTable-shaped
    netCDF4-compatible HDF5 file."""
    sols = _one_field(sols, out)
    gain = np.moveaxis(np.concatenate([s.jones for s in sols], axis=1), 1, 2)  # t, ant, f, 2, 2
    good = np.moveaxis(np.concatenate([~s.flags for s in sols], axis=1), 1, 2)
    freq = np.concatenate([s.freq for s in sols])
    time = sols[0].time
    interval = np.diff(sols[0].time_bounds, axis=1)[:, 0]
    receptors = np.array(_RECEPTORS[basis], "S1")

    def fill(h5):
        for name, data in (("time", time), ("antenna", np.arange(len(antenna_names))),
                           ("frequency", freq), ("receptor1", receptors),
                           ("receptor2", receptors)):
            h5.create_dataset(name, data=data)
            h5[name].make_scale(name)
        h5["time"].attrs["units"] = np.bytes_("s (MJD)")
        h5["frequency"].attrs["units"] = np.bytes_("Hz")
        h5["antenna"].attrs["names"] = np.array(antenna_names, "S16")
        dims5 = ("time", "antenna", "frequency", "receptor1", "receptor2")
        variables = {
            "gain": (gain.astype(np.complex128), dims5),
            "weight": (np.broadcast_to(good[..., None, None], gain.shape).astype(np.float32),
                       dims5),
            "residual": (np.zeros((len(time), len(freq), 2, 2), np.float32),
                         ("time", "frequency", "receptor1", "receptor2")),
            "interval": (interval.astype(np.float32), ("time",)),
            "datetime": (np.array([datetime.fromtimestamp(t - MJD_UNIX_OFFSET_S, timezone.utc)
                                   .strftime("%Y-%m-%dT%H:%M:%S.%f") for t in time], "S26"),
                         ("time",)),
        }
        for name, (data, dims) in variables.items():
            h5.create_dataset(name, data=data)
            for i, dim in enumerate(dims):
                h5[name].dims[i].attach_scale(h5[dim])
        h5.attrs["jones_type"] = np.bytes_(sols[0].jones_type)
        h5.attrs["receptor_frame1"] = h5.attrs["receptor_frame2"] = np.bytes_(basis.lower())
        h5.attrs["phasecentre_ra_deg"] = np.degrees(sols[0].field_ra)
        h5.attrs["phasecentre_dec_deg"] = np.degrees(sols[0].field_dec)
        h5.attrs["field_name"] = np.bytes_(sols[0].field_name)

    _write_tmp(out, fill)
