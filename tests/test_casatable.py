"""CASA calibration tables: HDF5 -> CASA caltable -> solutions round trips, applying a
CASA-format table gives the corrected data of the HDF5 one, and (where CASA is installed)
CASA's own applycal with the exported tables gives ALAKAZAM's CORRECTED_DATA."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import yaml
from casacore import tables

from alakazam.engine.config import load_config
from alakazam.engine.msmeta import read_meta
from alakazam.engine.solve import run_solve
from alakazam.engine.store import read_solutions
from solve_helpers import alakazam, needs_casa, run_casa, write_config


@pytest.fixture(scope="module")
def solved(tmp_path_factory, linear_ms):
    """K, B, G solved on the noiseless LINEAR MS, and each exported as a caltable."""
    ms, _ = linear_ms
    folder = tmp_path_factory.mktemp("casatable")
    cal = str(folder / "cal.h5")
    run_solve(load_config(write_config(
        folder / "solve.yaml", ms=ms, output=cal, ref_ant=0, jones=["K", "B", "G"],
        field=[["3C286"], ["3C286"], ["3C286", "J1407+2827"]],
        time_interval=["inf", "inf", "60s"], freq_interval=["full", 1, "full"])).solve[0])
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


@needs_casa
def test_casa_applycal_with_the_exported_tables(solved):
    ms, cal, caltables, folder = solved
    ours, theirs = str(folder / "ours.ms"), str(folder / "theirs.ms")
    shutil.copytree(ms, ours)
    shutil.copytree(ms, theirs)
    a, fa = _apply(folder, ours, "ours", [cal, cal, cal], "CORRECTED_DATA")
    run_casa("from casatasks import applycal; applycal(vis=%r, field='TARGET', gaintable=%r, "
             "gainfield=['', '', 'J1407+2827'], interp=['nearest', 'nearest', 'nearest'], "
             "calwt=False)" % (theirs, [caltables[j] for j in "KBG"]), folder)
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
    nofolder = alakazam("export", cal, "--casa", str(tmp_path / "no" / "z.tbl"), "--jones", "G")
    assert nofolder.returncode == 2
    assert nofolder.stderr.strip().endswith(f"folder {tmp_path / 'no'} does not exist")


@pytest.fixture(scope="module")
def polarisation_tables(tmp_path_factory, linear_ms):
    """Leakages and a cross-hand phase per channel with known values (an HDF5 file written by
    the engine's writer), exported as caltables, and an MS whose DATA is random."""
    from alakazam.engine import jones as jm
    from alakazam.engine.solution import Solution
    from alakazam.engine.store import SolutionWriter

    ms, _ = linear_ms
    folder = tmp_path_factory.mktemp("poltables")
    meta = read_meta(ms)
    n_ant, rng = len(meta.antennas), np.random.default_rng(1)
    cal = str(folder / "pol.h5")
    t0, t1 = meta.time_range
    with SolutionWriter(cal, {"ms": ms, "ref_ant": [0], "feed_basis": meta.basis,
                              "antenna_names": list(meta.antennas.names)}) as writer:
        for spw in meta.spws:
            n_f = len(spw.freqs)
            common = dict(
                field_id=0, field_name="3C286", field_ra=meta.fields[0].ra,
                field_dec=meta.fields[0].dec, spw_id=spw.id, time=np.array([(t0 + t1) / 2]),
                time_bounds=np.array([[t0, t1]]), freq=spw.freqs,
                freq_bounds=np.stack([spw.freqs - 1e6, spw.freqs + 1e6], axis=1),
                flags=np.zeros((1, n_f, n_ant), bool), reason=np.zeros((1, n_f, n_ant), np.uint8),
                snr=np.full((1, n_f, n_ant, 2), 100.0), ref_ant_used=np.full((1, n_f), -1),
                attrs={"ms": ms, "feed_basis": meta.basis})
            d = 0.05 * (rng.normal(size=(1, n_f, n_ant, 2)) + 1j * rng.normal(size=(1, n_f, n_ant, 2)))
            writer.write(Solution(jones_type="D", jones=jm.leakage(d[..., 0], d[..., 1]),
                                  native={"d_pq": d[..., 0], "d_qp": d[..., 1]}, **common))
            phi = np.linspace(0.3, 0.9, n_f)[None]
            x = np.ones((1, n_f, n_ant, 2), complex)
            x[..., 1] = np.exp(1j * phi)[..., None]
            writer.write(Solution(jones_type="Xf", jones=jm.diagonal(x),
                                  native={"phi_pq": phi}, **common))
    out = {}
    for jones in ("D", "Xf"):
        out[jones] = str(folder / f"pol.{jones}")
        done = alakazam("export", cal, "--casa", out[jones], "--jones", jones)
        assert done.returncode == 0, done.stderr
    data = str(folder / "random.ms")
    shutil.copytree(ms, data)
    with tables.table(data, readonly=False, ack=False) as tab:
        shape = tab.getcol("DATA").shape
        tab.putcol("DATA", (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64))
        tab.putcol("FLAG", np.zeros(shape, bool))
    return cal, out, data, folder


@pytest.mark.parametrize("jones", ["D", "Xf"])
def test_polarisation_round_trip(polarisation_tables, jones):
    cal, caltables, _, _ = polarisation_tables
    (ours,), (back,) = ([s for s in read_solutions(p, jones) if s.spw_id == 0]
                        for p in (cal, caltables[jones]))
    assert np.allclose(ours.jones, back.jones, rtol=0, atol=1e-6)
    for name, value in ours.native.items():
        assert np.allclose(value, back.native[name], atol=1e-6)
    with tables.table(caltables[jones], ack=False) as tab:
        assert tab.getkeywords()["VisCal"] == {"D": "Df Jones", "Xf": "Xf Jones"}[jones]


def _apply_one(folder, ms, jones, table, column):
    cfg = folder / f"{column}.yaml"
    cfg.write_text(yaml.safe_dump({"apply": [{
        "ms": ms, "output_col": column, "target_field": ["TARGET"], "jones": [jones],
        "tables": [table], "time_interp": ["nearest"], "apply_parang": False}]}))
    done = alakazam("run", str(cfg))
    assert done.returncode == 0, done.stderr
    with tables.table(ms, ack=False) as tab:
        sub = tab.query("FIELD_ID==2")
        return sub.getcol("DATA"), sub.getcol(column), sub.getcol("ANTENNA1"), sub.getcol("ANTENNA2")


@needs_casa
def test_casa_applycal_with_exported_polarisation_tables(polarisation_tables):
    """Xf: CASA's applycal gives our corrected data. D: CASA applies a D table to first order
    on the cross hands only (ours inverts the whole matrix); its result is that formula with
    the exported leakages, to float32: the parameters mean the same to both."""
    cal, caltables, data, folder = polarisation_tables
    for jones in ("Xf", "D"):
        raw, ours, a1, a2 = _apply_one(folder, data, jones, cal, f"OURS_{jones.upper()}")
        run_casa("from casatasks import applycal; applycal(vis=%r, field='TARGET', "
                 "gaintable=[%r], interp=['nearest'], calwt=False, parang=False)"
                 % (data, caltables[jones]), folder)
        with tables.table(data, ack=False) as tab:
            theirs = tab.query("FIELD_ID==2").getcol("CORRECTED_DATA")
        if jones == "Xf":
            assert np.max(np.abs(ours - theirs)) < 2e-6 * np.max(np.abs(ours))
            continue
        (sol,) = [s for s in read_solutions(cal, "D") if s.spw_id == 0]
        dpq, dqp = sol.native["d_pq"][0], sol.native["d_qp"][0]  # (n_f, n_ant)
        with tables.table(data, ack=False) as tab:
            spw0 = tab.query("FIELD_ID==2").getcol("DATA_DESC_ID") == 0
        v, c, p, q = raw[spw0], theirs[spw0], a1[spw0], a2[spw0]
        xy = v[..., 1] - dpq[:, p].T * v[..., 3] - v[..., 0] * np.conj(dqp[:, q].T)
        yx = v[..., 2] - dqp[:, p].T * v[..., 0] - v[..., 3] * np.conj(dpq[:, q].T)
        assert np.max(np.abs(c[..., 1] - xy)) < 1e-5 and np.max(np.abs(c[..., 2] - yx)) < 1e-5
        assert np.array_equal(c[..., [0, 3]], v[..., [0, 3]])


def test_info_and_plot_read_a_caltable(solved):
    _, _, caltables, _ = solved
    info = alakazam("info", caltables["G"])
    assert info.returncode == 0, info.stderr
    assert "CASA caltable (G Jones)" in info.stdout and "J1407+2827" in info.stdout
    plot = alakazam("plot", caltables["B"], "--axis", "freq", "--quantity", "amp",
                    "--width", "60", "--height", "12")
    assert plot.returncode == 0, plot.stderr
    assert "B 3C286 SPW 0: amp" in plot.stdout
