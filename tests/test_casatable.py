"""CASA calibration tables: HDF5 -> CASA caltable -> solutions round trips, applying a
CASA-format table gives the corrected data of the HDF5 one, and (where CASA is installed)
CASA's own applycal with the exported tables gives ALAKAZAM's CORRECTED_DATA."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from casacore import tables

from alakazam.engine.config import load_config
from alakazam.engine.msmeta import read_meta
from alakazam.engine.solve import run_solve
from alakazam.engine.store import read_solutions

CASA_SITE_CONFIG = """
import os, casadata
measurespath = os.path.join(os.path.dirname(casadata.__file__), "__data__")
datapath = [measurespath]
measures_auto_update = False
data_auto_update = False
"""


def alakazam(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "alakazam", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def solved(tmp_path_factory, linear_ms):
    """K, B, G solved on the noiseless LINEAR MS, and each exported as a caltable."""
    ms, _ = linear_ms
    folder = tmp_path_factory.mktemp("casatable")
    cal = str(folder / "cal.h5")
    cfg = folder / "solve.yaml"
    cfg.write_text(yaml.safe_dump({"solve": [{
        "ms": ms, "output": cal, "ref_ant": 0, "jones": ["K", "B", "G"],
        "field": [["3C286"], ["3C286"], ["3C286", "J1407+2827"]],
        "time_interval": ["inf", "inf", "60s"], "freq_interval": ["full", 1, "full"]}]}))
    run_solve(load_config(str(cfg)).solve[0])
    tables_ = {}
    for jones in ("K", "B", "G"):
        out = str(folder / f"cal.{jones}")
        done = alakazam("export", cal, "--casa", out, "--jones", jones)
        assert done.returncode == 0, done.stderr
        tables_[jones] = out
    return ms, cal, tables_, folder


@pytest.mark.parametrize("jones", ["K", "B", "G"])
def test_round_trip_through_a_caltable(solved, jones):
    ms, cal, caltables, _ = solved
    meta = read_meta(ms)
    ours = sorted(read_solutions(cal, jones), key=lambda s: (s.field_id, s.spw_id))
    back = read_solutions(caltables[jones], jones, {w.id: w.freqs for w in meta.spws})
    assert [(s.field_name, s.spw_id) for s in back] == [(s.field_name, s.spw_id) for s in ours]
    for a, b in zip(ours, back):
        assert b.jones_type == jones and b.n_ant == a.n_ant
        assert np.array_equal(a.time, b.time) and np.allclose(a.freq, b.freq)
        assert np.array_equal(a.flags, b.flags)
        assert np.allclose(a.jones, b.jones, rtol=0, atol=1e-6)  # float32 in the caltable
        assert np.allclose(a.snr, b.snr, rtol=1e-6)
        assert np.array_equal(a.ref_ant_used, b.ref_ant_used)
        if jones == "K":
            assert np.allclose(a.native["delay"], b.native["delay"], atol=1e-5)  # ns
    with tables.table(caltables[jones], ack=False) as tab:
        keywords = tab.getkeywords()
        assert keywords["VisCal"] == f"{jones} Jones" and keywords["PolBasis"] == "LINEAR"
        assert keywords["ParType"] == ("Float" if jones == "K" else "Complex")
        assert tab.info()["type"] == "Calibration"
        assert set(tab.colnames()) >= {"TIME", "INTERVAL", "SCAN_NUMBER", "FIELD_ID",
                                       "SPECTRAL_WINDOW_ID", "ANTENNA1", "ANTENNA2",
                                       "PARAMERR", "FLAG", "SNR", "WEIGHT"}
    for sub in ("ANTENNA", "FIELD", "SPECTRAL_WINDOW", "HISTORY", "OBSERVATION"):
        assert os.path.isdir(os.path.join(caltables[jones], sub))


def _apply(folder, ms, name, tabs, column):
    cfg = folder / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"apply": [{
        "ms": ms, "output_col": column, "target_field": ["TARGET"], "jones": ["K", "B", "G"],
        "tables": tabs, "field_select": ["nearest_time", "nearest_time", "pinned"],
        "solution_field": [None, None, "J1407+2827"],
        "time_interp": ["nearest", "nearest", "nearest"]}]}))
    done = alakazam("run", str(cfg))
    assert done.returncode == 0, done.stderr
    with tables.table(ms, ack=False) as tab:
        sub = tab.query("FIELD_ID==2")
        return sub.getcol(column), sub.getcol("FLAG")


def test_a_caltable_applies_as_its_hdf5(solved):
    ms, cal, caltables, folder = solved
    copy = str(folder / "apply.ms")
    shutil.copytree(ms, copy)
    a, fa = _apply(folder, copy, "h5", [cal, cal, cal], "CORRECTED_DATA")
    b, fb = _apply(folder, copy, "casa", [caltables[j] for j in "KBG"], "CORRECTED_CASA")
    assert np.array_equal(fa, fb)
    assert np.max(np.abs(a - b)) < 1e-6 * np.max(np.abs(a))


@pytest.mark.skipif(importlib.util.find_spec("casatasks") is None,
                    reason="CASA (casatasks, casadata) is not installed")
def test_casa_applycal_with_the_exported_tables(solved):
    ms, cal, caltables, folder = solved
    ours, theirs = str(folder / "ours.ms"), str(folder / "theirs.ms")
    shutil.copytree(ms, ours)
    shutil.copytree(ms, theirs)
    a, fa = _apply(folder, ours, "ours", [cal, cal, cal], "CORRECTED_DATA")
    (folder / "casasiteconfig.py").write_text(CASA_SITE_CONFIG)
    script = ("from casatasks import applycal; applycal(vis=%r, field='TARGET', gaintable=%r, "
              "gainfield=['', '', 'J1407+2827'], interp=['nearest', 'nearest', 'nearest'], "
              "calwt=False)" % (theirs, [caltables[j] for j in "KBG"]))
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(folder)})
    assert done.returncode == 0, done.stderr[-2000:]
    with tables.table(theirs, ack=False) as tab:
        sub = tab.query("FIELD_ID==2")
        b, fb = sub.getcol("CORRECTED_DATA"), sub.getcol("FLAG")
    assert np.array_equal(fa, fb)
    assert np.max(np.abs(a - b)) < 2e-6 * np.max(np.abs(a))  # float32


def test_export_errors(solved, tmp_path):
    _, cal, caltables, _ = solved
    many = alakazam("export", cal, "--casa", str(tmp_path / "x.tbl"))
    assert many.returncode == 2 and "holds B, G, K: choose one with --jones" in many.stderr
    there = alakazam("export", cal, "--casa", caltables["G"], "--jones", "G")
    assert there.returncode == 2 and "exists" in there.stderr
    nofield = alakazam("export", cal, "--casa", str(tmp_path / "y.tbl"), "--jones", "G",
                       "--field", "NOPE")
    assert nofield.returncode == 2 and "--field NOPE" in nofield.stderr
