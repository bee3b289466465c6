"""The same solve and apply on a real Dask distributed LocalCluster (2 worker processes):
the same solutions and corrected data as the local executor, a worker killed mid-run
survived, a task failing on every attempt reported with its step, field, SPW and times."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

from alakazam.engine.apply import run_apply
from alakazam.engine.config import ExecutorSpec, load_config
from alakazam.engine.errors import TaskFailed
from alakazam.engine.executor import DaskExecutor, LocalExecutor
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import run_solve
from solve_helpers import corrected_vs_truth, write_config

pytest.importorskip("distributed")

FIELDS = ["3C286", "J1407+2827"]


@pytest.fixture(scope="module")
def dist_ms(tmp_path_factory):
    """LINEAR, all correlations, K, G, B, 4 SPWs (up to 8 tasks a step), SNR 30."""
    path = str(tmp_path_factory.mktemp("dist") / "dist.ms")
    truth = simulate(path, SimOptions(terms=("K", "G", "B"), snr=30.0,
                                      n_spw=4, n_chan=8, duration=1800.0, seed=5))
    return path, truth


@pytest.fixture(scope="module")
def cluster():
    with DaskExecutor(ExecutorSpec("dask", "local", n_workers=2)) as executor:
        yield executor


def _config(tmp_path, ms, name, apply_col):
    path = tmp_path / f"{name}.yaml"
    cal = str(tmp_path / f"{name}.h5")
    with open(path, "w") as fh:
        yaml.safe_dump({
            "solve": [{"ms": ms, "output": cal, "ref_ant": 0, "jones": ["K", "B", "G"],
                       "field": [["3C286"], ["3C286"], FIELDS],
                       "time_interval": ["inf", "inf", "60s"],
                       "model": {"J1407+2827": {"flux_jy": 2.3, "spix": -0.7,
                                                "ref_freq": "1.4GHz"}}}],
            "apply": [{"ms": ms, "output_col": apply_col, "target_field": ["TARGET"],
                       "jones": ["K", "B", "G"], "tables": [cal, cal, cal],
                       "field_select": ["nearest_time", "nearest_time", "nearest_sky"],
                       "memory_limit_gb": 0.0005}]}, fh)  # blocks of ~230 rows: 9 chunks
    return load_config(str(path))


def _column(ms, col):
    meta = read_meta(ms)
    blocks = list(iter_blocks(meta, select(meta, field="TARGET"), (col,)))
    return (np.concatenate([b.vis[col] for b in blocks]),
            np.concatenate([b.flag for b in blocks]))


def _same(a, b):
    assert [(s.jones_type, s.field_name, s.spw_id) for s in a] == \
        [(s.jones_type, s.field_name, s.spw_id) for s in b]
    for x, y in zip(a, b):
        assert np.array_equal(x.flags, y.flags)
        assert np.allclose(x.jones, y.jones, rtol=0, atol=1e-9)


def test_dask_gives_the_local_solutions_and_corrected_data(tmp_path, dist_ms, cluster):
    ms, truth = dist_ms
    local = _config(tmp_path, ms, "local", "CORRECTED_DATA")
    remote = _config(tmp_path, ms, "dask", "CORRECTED_DASK")
    assert cluster.workers == 2
    with LocalExecutor(2) as executor:
        sols_local = run_solve(local.solve[0], executor=executor)
        run_apply(local.apply[0], executor=executor)
    sols_dask = run_solve(remote.solve[0], executor=cluster)
    counts = run_apply(remote.apply[0], executor=cluster)
    _same(sols_local, sols_dask)
    assert counts["rows"] == read_meta(ms).fields[2].n_rows
    (a, fa), (b, fb) = _column(ms, "CORRECTED_DATA"), _column(ms, "CORRECTED_DASK")
    assert np.array_equal(fa, fb)
    assert np.allclose(a, b, rtol=0, atol=1e-6 * np.abs(a).max())
    ratio, _, _ = corrected_vs_truth(ms, truth, "TARGET", "CORRECTED_DASK")
    assert abs(ratio - 1) < 0.02  # and the calibration is right: the target's true sky back


def test_a_worker_killed_mid_run_is_survived(tmp_path, dist_ms, cluster):
    ms, _ = dist_ms
    config = _config(tmp_path, ms, "kill", "CORRECTED_KILL")
    with LocalExecutor(1) as executor:
        expected = run_solve(_config(tmp_path, ms, "ref", "X").solve[0], executor=executor)
    pids = cluster.client.run(os.getpid)  # worker address -> pid
    killed = []

    def kill_one(index, pending):
        if not killed and pending:  # after the first result, with tasks still to run
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append((victim, pending))

    cluster.on_result = kill_one
    try:
        got = run_solve(config.solve[0], executor=cluster)
    finally:
        cluster.on_result = None
    assert killed and killed[0][1] > 0
    _same(expected, got)
    cluster.client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert killed[0][0] not in cluster.client.run(os.getpid).values()


def test_a_failing_task_names_its_cell(tmp_path, dist_ms, cluster):
    """The MS disappears under the workers after the first step: every attempt of the next
    step's tasks fails, and the error names the step, field, SPW and times."""
    ms, _ = dist_ms
    moved = ms + ".away"
    config = _config(tmp_path, ms, "fail", "CORRECTED_FAIL")

    def hide(index, pending):
        if index == 3 and not pending and not os.path.exists(moved):  # step 0 complete
            os.rename(ms, moved)

    cluster.on_result = hide
    try:
        with pytest.raises(TaskFailed, match=r"solve\[0\] step 1 \(B\) field 3C286 SPW 0 times "
                                             r"2026-03-20 \d\d:\d\d:\d\d - \d\d:\d\d:\d\d UTC: "
                                             r"InputError: .*dist.ms"):
            run_solve(config.solve[0], executor=cluster)
    finally:
        cluster.on_result = None
        if os.path.exists(moved):
            os.rename(moved, ms)
    assert not os.path.exists(str(tmp_path / "fail.h5"))  # no half-written output


def test_cli_scheduler_local_and_missing_dask(tmp_path, dist_ms):
    ms, _ = dist_ms
    cfg = write_config(tmp_path / "cli.yaml", ms=ms, output=str(tmp_path / "cli.h5"),
                       ref_ant=0, jones=["G"], field=["3C286"])
    run = subprocess.run([sys.executable, "-m", "alakazam", "run", cfg, "--scheduler", "local",
                          "--workers", "2"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "wrote" in run.stdout and os.path.exists(tmp_path / "cli.h5")
    script = ("import sys; sys.modules['distributed'] = None; from alakazam.cli import main; "
              f"sys.exit(main(['run', {cfg!r}, '--scheduler', 'local']))")
    missing = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=300)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == (
        "alakazam: error: executor dask: dask and distributed are not installed "
        "(pip install 'alakazam[dask]')")
