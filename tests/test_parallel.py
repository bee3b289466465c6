"""Parallel and memory-bounded solves: the same solutions from 1 and N worker processes and
from memory tiers 1, 2 and 3 (forced by tiny memory limits); Ctrl-C during a parallel run
stops every worker, leaves no partial output and no orphan process; Ctrl-C during an apply
stops it at once and a re-run gives the uninterrupted result."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import yaml

from alakazam.engine.config import load_config
from alakazam.engine.msmeta import read_meta
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import passes, plan, run_solve
from alakazam.engine.tiers import BlockSource


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """SNR 20, K, G and B corruptions, 3 SPWs: a chain K -> G -> B whose later steps pre-apply
    the earlier ones, on two fields."""
    path = str(tmp_path_factory.mktemp("parallel") / "p.ms")
    simulate(path, SimOptions(terms=("K", "G", "B"), snr=20.0, n_spw=3, seed=9))
    return path


def solve_with(folder, ms, name, workers=1, **settings):
    doc = {"solve": [{"ms": ms, "output": f"{name}.h5", "ref_ant": 0, "apply_parang": True,
                      "jones": ["K", "G", "B"],
                      "field": [["3C286", "J1407+2827"], ["3C286", "J1407+2827"], ["3C286"]],
                      "time_interval": ["inf", "60s", "inf"], **settings}]}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    block = load_config(str(path)).solve[0]
    sols = run_solve(block, workers=workers)
    return block, {(s.jones_type, s.field_name, s.spw_id): s for s in sols}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key].jones, b[key].jones, rtol=1e-6, atol=1e-9,
                                   err_msg=str(key))
        np.testing.assert_array_equal(a[key].flags, b[key].flags)


def tiers_of(block):
    meta, steps = plan(block)
    source = BlockSource(meta, (block.data_col, block.model_col), block.memory_limit_gb)
    return {source.plan(p.selection, book=True).tier for tasks in steps for p in passes(tasks)}


def test_workers_give_the_same_solutions(noisy, tmp_path):
    _, one = solve_with(tmp_path, noisy, "one", workers=1)
    _, two = solve_with(tmp_path, noisy, "two", workers=2)
    assert_same(one, two)


def test_memory_tiers_give_the_same_solutions(noisy, tmp_path):
    """Tier 1 (no limit), tier 2 (batches of time slots: a limit too small to keep a field
    but large enough for a slot) and tier 3 (one slot split into rows)."""
    meta = read_meta(noisy)
    sample = max(s.n_chan for s in meta.spws) * 4
    slot_rows = 21  # 7 antennas
    tier2 = 8 * slot_rows * sample * 96 / 2**30  # a few time slots per block, no cache
    tier3 = 0.5 * slot_rows * sample * 96 / 2**30  # half a slot per block
    results = {}
    for tier, limit in ((1, 0), (2, tier2), (3, tier3)):
        block, results[tier] = solve_with(tmp_path, noisy, f"tier{tier}", memory_limit_gb=limit)
        assert tiers_of(block) == {tier}
    assert_same(results[1], results[2])
    assert_same(results[1], results[3])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """An MS long enough (20 antennas, 4 SPWs x 64 channels, 40 min) to be interrupted."""
    folder = tmp_path_factory.mktemp("big")
    simulate(str(folder / "big.ms"), SimOptions(terms=("K", "G"), n_ant=20, n_spw=4, n_chan=64,
                                                duration=2400))
    return folder


def start_run(config, *options):
    """`alakazam run` in a subprocess reporting JSON progress."""
    return subprocess.Popen([sys.executable, "-m", "alakazam", "run", str(config),
                             "--progress", "json", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt(proc) -> float:
    """SIGINT to `proc`; seconds until it exited, checked to be with status 130."""
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    proc.wait(timeout=30)
    stopped = time.monotonic() - start
    assert proc.returncode == 130, proc.stderr.read()
    return stopped


def test_ctrl_c_stops_a_parallel_run_cleanly(big):
    """SIGINT once the workers run: exit status 130 within 2 s, every worker gone, no partial
    output file."""
    config = big / "c.yaml"
    config.write_text(yaml.safe_dump({"solve": [{
        "ms": "big.ms", "output": "cal.h5", "ref_ant": 0, "jones": ["K", "G"],
        "field": [["3C286", "J1407+2827"], ["3C286", "J1407+2827"]],
        "time_interval": ["inf", "int"]}]}))
    proc = start_run(config, "--workers", "2")
    parent = psutil.Process(proc.pid)
    workers = []
    deadline = time.monotonic() + 120
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        workers = parent.children(recursive=True)
    assert workers, "the run never started its workers"
    time.sleep(0.3)
    stopped = interrupt(proc)
    assert stopped < 2.0, f"took {stopped:.1f} s to stop"
    gone, alive = psutil.wait_procs(workers, timeout=2)
    assert not alive, f"orphan workers: {[p.pid for p in alive]}"
    assert not [f for f in os.listdir(big) if f.startswith("cal.h5")]
    events = [json.loads(line) for line in proc.stdout.read().splitlines() if line.strip()]
    assert all(e["event"] == "progress" for e in events)  # it was stopped, not finished


def test_ctrl_c_stops_an_apply_cleanly(big):
    """SIGINT while blocks are being read, corrected and written: exit 130 within 2 s, the MS
    still opens, and re-running gives output and flags identical to an uninterrupted apply."""
    solve = big / "g.yaml"
    solve.write_text(yaml.safe_dump({"solve": [{
        "ms": "big.ms", "output": "g.h5", "ref_ant": 0, "jones": ["G"],
        "field": [["J1407+2827"]], "time_interval": ["120s"]}]}))
    assert subprocess.run([sys.executable, "-m", "alakazam", "run", str(solve)],
                          capture_output=True).returncode == 0
    config = big / "a.yaml"
    config.write_text(yaml.safe_dump({"apply": [{
        "ms": "big.ms", "target_field": ["J1407+2827", "TARGET"], "jones": ["G"],
        "tables": ["g.h5"], "field_select": ["nearest_time"], "time_interp": ["linear"]}]}))
    assert subprocess.run([sys.executable, "-m", "alakazam", "run", str(config)],
                          capture_output=True).returncode == 0
    reference = output_digest(big / "big.ms")

    proc = start_run(config)
    first = proc.stdout.readline()  # the first block is written: the apply is under way
    assert json.loads(first)["event"] == "progress", first
    stopped = interrupt(proc)
    assert stopped < 2.0, f"took {stopped:.1f} s to stop"
    assert subprocess.run([sys.executable, "-m", "alakazam", "run", str(config)],
                          capture_output=True).returncode == 0
    assert output_digest(big / "big.ms") == reference


def output_digest(ms) -> str:
    from casacore import tables

    digest = hashlib.md5()
    with tables.table(str(ms), ack=False) as tab:
        for col in ("CORRECTED_DATA", "FLAG"):
            digest.update(tab.getcol(col).tobytes())
    return digest.hexdigest()
