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
from helpers import expected_data

from alakazam.engine.config import load_config
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import run_solve
from alakazam.engine.apply import run_apply


@pytest.fixture(scope="module")
def cal_ms(tmp_path_factory):
    """K and G corruptions at SNR 100, with the phase calibrator's MODEL_DATA set to its true
    flux density (what fluxscale will provide) so that G carries the absolute amplitude."""
    path = str(tmp_path_factory.mktemp("apply") / "cal.ms")
    truth = simulate(path, SimOptions(terms=("K", "G"), snr=100.0, seed=21))
    meta = read_meta(path)
    with tables.table(path, readonly=False, ack=False) as tab:
        for block in iter_blocks(meta, select(meta, field=1), ("MODEL_DATA",)):
            model = expected_data(truth, block, "true", corrupt=False)
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


def corrected_vs_truth(path, truth, field="TARGET", column="CORRECTED_DATA"):
    """(flux ratio, residual rms, expected noise rms) of the parallel hands of `field`."""
    meta = read_meta(path)
    num = den = resid = expected = 0.0
    n = 0
    for block in iter_blocks(meta, select(meta, field=field), (column,)):
        want = expected_data(truth, block, "true", corrupt=False)[..., [0, 3]]
        got = block.vis[column][..., [0, 3]]
        ok = ~block.flag[..., [0, 3]]
        num += np.sum((got * np.conj(want))[ok]).real
        den += np.sum(np.abs(want[ok]) ** 2)
        resid += np.sum(np.abs(got - want)[ok] ** 2)
        times = np.searchsorted(truth.times, block.time)
        gp = np.abs(truth.gains[times, block.ant1])  # (n_row, 2)
        gq = np.abs(truth.gains[times, block.ant2])
        expected += np.sum((2 * truth.sigma**2 / (gp * gq) ** 2)[:, None, :] * ok)
        n += ok.sum()
    return num / den, np.sqrt(resid / n), np.sqrt(expected / n)


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
