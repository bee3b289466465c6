"""Apply: solutions from the calibrators onto the target, field selection, interpolation,
spwmap, flags, re-runs."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from casacore import tables

from alakazam.engine.apply import run_apply
from alakazam.engine.config import load_config
from alakazam.engine.jones import diagonal
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solution import Solution
from alakazam.engine.solve import run_solve
from alakazam.engine.store import SolutionWriter
from solve_helpers import corrected_vs_truth


@pytest.fixture(scope="module")
def cal_ms(tmp_path_factory):
    """K and G corruptions at SNR 100, with the phase calibrator's MODEL_DATA set to its true
    flux density (what fluxscale will provide) so that G carries the absolute amplitude."""
    path = str(tmp_path_factory.mktemp("apply") / "cal.ms")
    truth = simulate(path, SimOptions(terms=("K", "G"), snr=100.0, seed=21))
    meta = read_meta(path)
    with tables.table(path, readonly=False, ack=False) as tab:
        for block in iter_blocks(meta, select(meta, field=1), ("MODEL_DATA",)):
            model = truth.visibilities(block, "true", corrupt=False)
            sub = tab.selectrows(np.sort(block.rows))
            sub.putcol("MODEL_DATA", model[np.argsort(block.rows)].astype(np.complex64))
    return path, truth


def run_config(tmp_path, doc, name="cfg"):
    cfg_path = tmp_path / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump(doc))
    cfg = load_config(str(cfg_path))
    for block in cfg.solve:
        run_solve(block)
    return [run_apply(block) for block in cfg.apply]


def solve_apply_doc(ms, **apply_overrides):
    apply = {"ms": ms, "target_field": "TARGET", "jones": ["K", "G"],
             "tables": ["cal.h5", "cal.h5"], "field_select": ["nearest_time", "nearest_sky"],
             "time_interp": ["exact", "linear"]}
    apply.update(apply_overrides)
    return {"solve": [{"ms": ms, "output": "cal.h5", "ref_ant": 0, "apply_parang": True,
                       "jones": ["K", "G"], "field": [["3C286"], ["J1407+2827"]],
                       "time_interval": ["inf", "60s"]}],
            "apply": [apply]}


def md5_of(path, column):
    with tables.table(path, ack=False) as tab:
        return hashlib.md5(tab.getcol(column).tobytes()).hexdigest()


def test_calibrated_target_matches_the_true_sky(cal_ms, tmp_path):
    """Solve K on the flux calibrator and G (60 s) on the phase calibrator, apply both to the
    target: its corrected visibilities equal the true sky (0.5 Jy + 0.2 Jy off centre) to 1%
    in flux, and the residuals are the corrected noise plus < 1% of the flux from
    interpolating G across the target scans."""
    src, truth = cal_ms
    path = str(tmp_path / "t.ms")
    shutil.copytree(src, path)
    data_before = md5_of(path, "DATA")
    run_config(tmp_path, solve_apply_doc(path))
    assert md5_of(path, "DATA") == data_before  # DATA is never written
    ratio, rms, noise = corrected_vs_truth(path, truth)
    print(f"target flux ratio {ratio:.5f}, residual rms {rms:.5f} Jy, noise {noise:.5f} Jy")
    assert abs(ratio - 1) < 0.01
    assert rms < np.hypot(noise, 0.01 * 0.5) * 1.2
    # and a second apply over the same output column gives identical results
    first = md5_of(path, "CORRECTED_DATA"), md5_of(path, "FLAG")
    doc = solve_apply_doc(path)
    del doc["solve"]
    run_config(tmp_path, doc, name="again")
    assert (md5_of(path, "CORRECTED_DATA"), md5_of(path, "FLAG")) == first


def test_without_the_solutions_the_target_is_far_off(cal_ms):
    """Control for the test above: uncorrected DATA are nowhere near the true sky."""
    src, truth = cal_ms
    ratio, rms, noise = corrected_vs_truth(src, truth, column="DATA")
    assert rms > 20 * noise


# ---- analytic cases on an uncorrupted, noiseless MS (DATA = true sky) ----------------------


@pytest.fixture(scope="module")
def clean_ms(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("clean") / "clean.ms")
    truth = simulate(path, SimOptions(terms=(), snr=float("inf"), seed=4))
    return path, truth


def linear_gain(t, t0, ant, spw):
    """Amplitude and phase both linear in time: exactly what `linear` reproduces."""
    x = (t - t0) / 600.0
    return (1 + 0.1 * x + 0.02 * ant + 0.05 * spw) * np.exp(1j * (0.3 + 0.7 * x + 0.2 * ant))


def write_table(path, truth, fields, flag_ant=None, spws=(0, 1)):
    """A G table with one 60 s cell per minute of each field of `fields` ({name: gain_fn}),
    gains gain_fn(t, ant, spw) on both receptors."""
    n_ant = truth.gains.shape[1]
    with SolutionWriter(path, {"ms": "synthetic"}) as writer:
        for name, gain_fn in fields.items():
            fid = [f["name"] for f in truth.fields].index(name)
            fdef = truth.fields[fid]
            times = truth.times[truth.time_field == fid]
            cells = times.reshape(-1, 6).mean(axis=1)  # 60 s cells of 6 integrations
            bounds = np.stack([times.reshape(-1, 6)[:, 0] - 5, times.reshape(-1, 6)[:, -1] + 5], 1)
            for spw in spws:
                g = np.stack([gain_fn(cells, a, spw) for a in range(n_ant)], axis=-1)
                g = np.repeat(g[:, None, :, None], 2, axis=3)  # (n_t, 1, n_ant, 2)
                flags = np.zeros(g.shape[:3], bool)
                if flag_ant is not None:
                    flags[..., flag_ant] = True
                writer.write(Solution(
                    "G", fid, name, fdef["ra"], fdef["dec"], spw, cells, bounds,
                    np.array([truth.spw_centre(spw)]), np.array([[truth.freqs[spw][0] - 1e6,
                                                                  truth.freqs[spw][-1] + 1e6]]),
                    diagonal(g), flags, flags.astype(np.uint8), np.ones(g.shape), np.zeros(g.shape[:2], int),
                    native={"gain": g}))


def apply_doc(ms, table, **overrides):
    doc = {"ms": ms, "target_field": "TARGET", "jones": ["G"], "tables": [table],
           "field_select": ["nearest_time"], "time_interp": ["linear"]}
    doc.update(overrides)
    return {"apply": [doc]}


def corrected_ratio(path, field, gain_fn):
    """Max |CORRECTED * g_p conj(g_q) - DATA| over the parallel hands of `field`, and the
    flags, for gains gain_fn(t, ant, spw)."""
    meta = read_meta(path)
    worst = 0.0
    for block in iter_blocks(meta, select(meta, field=field), ("DATA", "CORRECTED_DATA")):
        gp = gain_fn(block.time, block.ant1, block.spw_id)
        gq = gain_fn(block.time, block.ant2, block.spw_id)
        back = block.vis["CORRECTED_DATA"][..., [0, 3]] * (gp * np.conj(gq))[:, None, None]
        ok = ~block.flag[..., [0, 3]]
        worst = max(worst, np.abs(back - block.vis["DATA"][..., [0, 3]])[ok].max())
    return worst


def fresh(clean_ms, tmp_path):
    path = str(tmp_path / "c.ms")
    shutil.copytree(clean_ms[0], path)
    return path, clean_ms[1]


def test_linear_reproduces_gains_linear_in_time(clean_ms, tmp_path):
    path, truth = fresh(clean_ms, tmp_path)
    t0 = truth.times[0]
    fn = lambda t, a, s: linear_gain(t, t0, a, s)  # noqa: E731
    write_table(str(tmp_path / "lin.h5"), truth, {"J1407+2827": fn})
    run_config(tmp_path, apply_doc(path, "lin.h5"))
    assert corrected_ratio(path, "TARGET", fn) < 1e-5


def test_exact_stamps_each_cell(clean_ms, tmp_path):
    """On the phase calibrator itself, `exact` divides every integration by its own cell's
    gain, which is not the gain at that integration's time."""
    path, truth = fresh(clean_ms, tmp_path)
    t0 = truth.times[0]
    fn = lambda t, a, s: linear_gain(t, t0, a, s)  # noqa: E731
    write_table(str(tmp_path / "lin.h5"), truth, {"J1407+2827": fn})
    run_config(tmp_path, apply_doc(path, "lin.h5", target_field="J1407+2827",
                                   time_interp=["exact"]))
    times = truth.times[truth.time_field == 1]
    cell_of = dict(zip(times, np.repeat(times.reshape(-1, 6).mean(axis=1), 6)))
    stamped = lambda t, a, s: fn(np.vectorize(cell_of.get)(t), a, s)  # noqa: E731
    assert corrected_ratio(path, "J1407+2827", stamped) < 1e-5
    assert corrected_ratio(path, "J1407+2827", fn) > 1e-3


def test_nearest_sky_picks_the_closer_field(clean_ms, tmp_path):
    path, truth = fresh(clean_ms, tmp_path)
    near = lambda t, a, s: np.full(np.shape(t), 2.0 + 0.5j) * (1 + 0.1 * a)  # noqa: E731
    far = lambda t, a, s: np.full(np.shape(t), 0.5 - 1.0j)  # noqa: E731
    write_table(str(tmp_path / "both.h5"), truth, {"J1407+2827": near, "3C286": far})
    run_config(tmp_path, apply_doc(path, "both.h5", field_select=["nearest_sky"]))
    assert corrected_ratio(path, "TARGET", near) < 1e-5


def test_spwmap_applies_spw0_solutions_to_spw1(clean_ms, tmp_path):
    path, truth = fresh(clean_ms, tmp_path)
    t0 = truth.times[0]
    fn = lambda t, a, s: linear_gain(t, t0, a, s)  # noqa: E731
    write_table(str(tmp_path / "spw0.h5"), truth, {"J1407+2827": fn}, spws=(0,))
    run_config(tmp_path, apply_doc(path, "spw0.h5", spwmap=[0, 0]))
    as_spw0 = lambda t, a, s: fn(t, a, 0)  # noqa: E731
    assert corrected_ratio(path, "TARGET", as_spw0) < 1e-5


def test_flagged_solutions_flag_the_data_and_flags_can_be_restored(clean_ms, tmp_path):
    path, truth = fresh(clean_ms, tmp_path)
    t0 = truth.times[0]
    fn = lambda t, a, s: linear_gain(t, t0, a, s)  # noqa: E731
    write_table(str(tmp_path / "f.h5"), truth, {"J1407+2827": fn}, flag_ant=2)
    flags_before = md5_of(path, "FLAG")
    run_config(tmp_path, apply_doc(path, "f.h5"))
    with tables.table(path, ack=False) as tab:
        t = tab.query("FIELD_ID==2")
        a1, a2, flag = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
    on2 = (a1 == 2) | (a2 == 2)
    assert flag[on2].all() and not flag[~on2].any()
    assert corrected_ratio(path, "TARGET", fn) < 1e-5
    result = subprocess.run([sys.executable, "-m", "alakazam", "restore-flags", path,
                             "before_apply_CORRECTED_DATA"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert md5_of(path, "FLAG") == flags_before


def test_pinned_without_a_solution_field_is_a_config_error(clean_ms, tmp_path):
    path, truth = fresh(clean_ms, tmp_path)
    write_table(str(tmp_path / "p.h5"), truth, {"J1407+2827": lambda t, a, s: np.ones(np.shape(t))})
    for extra, needle in (({}, "apply[0].solution_field[0]: field_select pinned needs"),
                          ({"solution_field": ["NGC1"]}, "apply[0].solution_field[0]: 'NGC1' has no G")):
        cfg = tmp_path / "pin.yaml"
        cfg.write_text(yaml.safe_dump(apply_doc(path, "p.h5", field_select=["pinned"], **extra)))
        result = subprocess.run([sys.executable, "-m", "alakazam", "run", str(cfg)],
                                capture_output=True, text=True)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr
