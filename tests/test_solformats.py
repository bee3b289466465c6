"""H5Parm (DP3/LoSoTo) out and in for G and K, and the SKA GainTable-shaped export."""

from __future__ import annotations

import importlib.util
import shutil

import h5py
import numpy as np
import pytest
import yaml
from casacore import tables

from alakazam.engine.config import load_config
from alakazam.engine.msmeta import read_meta
from alakazam.engine.solve import run_solve
from alakazam.engine.store import read_solutions
from solve_helpers import alakazam, write_config

FIELD = "J1407+2827"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, linear_ms):
    ms, _ = linear_ms
    folder = tmp_path_factory.mktemp("solformats")
    cal = str(folder / "cal.h5")
    run_solve(load_config(write_config(
        folder / "solve.yaml", ms=ms, output=cal, ref_ant=0, jones=["K", "G"],
        field=[[FIELD], [FIELD, "3C286"]], time_interval=["inf", "60s"])).solve[0])
    out = {}
    for jones, flag, name in (("G", "--h5parm", "g.parm"), ("K", "--h5parm", "k.parm"),
                              ("G", "--gaintable", "g.gaintable.h5")):
        out[name] = str(folder / name)
        done = alakazam("export", cal, flag, out[name], "--jones", jones, "--field", FIELD)
        assert done.returncode == 0, done.stderr
    return ms, cal, out, folder


@pytest.mark.parametrize("jones, name", [("G", "g.parm"), ("K", "k.parm")])
def test_h5parm_round_trip(exported, jones, name):
    ms, cal, out, _ = exported
    meta = read_meta(ms)
    ours = sorted([s for s in read_solutions(cal, jones) if s.field_name == FIELD],
                  key=lambda s: s.spw_id)
    back = read_solutions(out[name], jones, {w.id: w.freqs for w in meta.spws})
    assert [s.spw_id for s in back] == [s.spw_id for s in ours]
    for a, b in zip(ours, back):
        assert b.field_name == FIELD and np.array_equal(a.time, b.time)
        assert np.array_equal(a.flags, b.flags)
        assert np.allclose(a.jones, b.jones, rtol=0, atol=1e-12)
    with h5py.File(out[name], "r") as h5:
        kinds = {k: h5["solset000"][k].attrs["TITLE"].decode() for k in h5["solset000"]
                 if isinstance(h5["solset000"][k], h5py.Group)}
        assert kinds == ({"amplitude000": "amplitude", "phase000": "phase"} if jones == "G"
                         else {"clock000": "clock"})
        tab = h5["solset000"][next(iter(kinds))]
        assert tab["val"].attrs["AXES"].decode() == "time,freq,ant,pol"
        assert tab["val"].shape == tab["weight"].shape == (
            len(tab["time"]), len(tab["freq"]), len(tab["ant"]), len(tab["pol"]))
        assert [p.decode() for p in tab["pol"][()]] == ["XX", "YY"]
        if jones == "K":  # LoSoTo's clock: seconds
            assert np.allclose(tab["val"][:, 0], ours[0].native["delay"] * 1e-9)


def _apply(folder, ms, table, column, field_select):
    cfg = folder / f"{column}.yaml"
    cfg.write_text(yaml.safe_dump({"apply": [{
        "ms": ms, "output_col": column, "target_field": ["TARGET"], "jones": ["G"],
        "tables": [table], "field_select": [field_select], "solution_field": [FIELD],
        "time_interp": ["linear"]}]}))
    done = alakazam("run", str(cfg))
    assert done.returncode == 0, done.stderr
    with tables.table(ms, ack=False) as tab:
        return tab.query("FIELD_ID==2").getcol(column)


def test_an_h5parm_applies_as_its_hdf5(exported, tmp_path):
    ms, cal, out, _ = exported
    copy = str(tmp_path / "h5parm.ms")
    shutil.copytree(ms, copy)
    a = _apply(tmp_path, copy, cal, "CORRECTED_DATA", "pinned")
    b = _apply(tmp_path, copy, out["g.parm"], "CORRECTED_PARM", "pinned")
    assert np.max(np.abs(a - b)) < 1e-6 * np.max(np.abs(a))


def test_gaintable_layout(exported):
    ms, cal, out, _ = exported
    ours = sorted([s for s in read_solutions(cal, "G") if s.field_name == FIELD],
                  key=lambda s: s.spw_id)
    with h5py.File(out["g.gaintable.h5"], "r") as h5:
        gain = h5["gain"][()]
        dims = [h5["gain"].dims[i][0].name.lstrip("/") for i in range(5)]
        assert dims == ["time", "antenna", "frequency", "receptor1", "receptor2"]
        assert [r.decode() for r in h5["receptor1"][()]] == ["X", "Y"]
        assert h5.attrs["jones_type"].decode() == "G"
        assert h5["residual"].shape == (len(ours[0].time), len(ours), 2, 2)
        assert h5["datetime"][0].decode().startswith("2026-03-20T")
        for i, sol in enumerate(ours):
            assert np.allclose(gain[:, :, i], sol.jones[:, 0])
            assert np.array_equal(h5["weight"][:, :, i, 0, 0] == 0, sol.flags[:, 0])
        assert np.allclose(h5["interval"][()], np.diff(ours[0].time_bounds, axis=1)[:, 0])


@pytest.mark.skipif(importlib.util.find_spec("xarray") is None
                    or importlib.util.find_spec("h5netcdf") is None,
                    reason="xarray and h5netcdf are not installed")
def test_gaintable_opens_as_an_xarray_dataset(exported):
    import xarray

    _, _, out, _ = exported
    with xarray.open_dataset(out["g.gaintable.h5"], engine="h5netcdf") as ds:
        assert ds.gain.dims == ("time", "antenna", "frequency", "receptor1", "receptor2")
        assert ds.gain.dtype == np.complex128 and ds.attrs["jones_type"] == "G"


def test_export_format_errors(exported, tmp_path):
    _, cal, out, _ = exported
    both = alakazam("export", cal, "--h5parm", str(tmp_path / "x.parm"), "--jones", "G")
    assert both.returncode == 2 and "holds one field: choose one of 3C286, J1407+2827" in \
        both.stderr
    again = alakazam("export", cal, "--h5parm", out["g.parm"], "--jones", "G", "--field", FIELD)
    assert again.returncode == 2 and "exists" in again.stderr


def test_info_reads_an_h5parm(exported):
    _, _, out, _ = exported
    info = alakazam("info", out["g.parm"])
    assert info.returncode == 0, info.stderr
    assert "H5Parm" in info.stdout and FIELD in info.stdout
