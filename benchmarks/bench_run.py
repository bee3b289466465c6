"""Whole-process timings of `alakazam run` against the I/O floor (see README.md).

Builds (once) with `alakazam simulate` a 27-antenna, 1 h, 10 s, 2 SPW x 64 channel,
4-correlation MS (252 720 rows, about 1 GB), then measures, each repeated and the median
taken, every job a process of its own:
  (a) the read floor: python-casacore getcol of DATA, MODEL_DATA, FLAG, WEIGHT for all rows;
  (b) `alakazam run` of K (inf) + G (every integration) on the two calibrators;
  (c) `alakazam run` applying K + G to every field into CORRECTED_DATA, against its floor:
      a getcol of DATA plus a putcol of CORRECTED_DATA for all rows;
  (d) the peak memory of each (the proportional set size summed over the process and its
      workers, so that pages a forked worker shares with its parent count once; sampled every
      20 ms) and the `--dry-run` predictions;
  (e) the numba compile time of a first run (an empty kernel cache) over a warm one;
  (f) the fixed start-up of a run: a `--dry-run` (imports, MS metadata, plan);
  (g) with --pol: the same MS size with the polcal schedule (3C286 in every third scan), its
      read floor and `alakazam run` of the polarisation chain K, B, G, Kcross, D (per
      channel), Xf on 3C286 with apply_parang;
  (h) with --model: (b) with the models computed per block (3C286 from perley-butler-2017,
      J1407+2827 a 2.3 Jy point source; MODEL_DATA not read) against the read floor without
      MODEL_DATA (DATA, FLAG, WEIGHT).

    python benchmarks/bench_run.py [--ms bench10.ms] [--repeat 3] [--workers N] [--pol]
                                   [--model]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
import yaml

FLOOR_READ = """
from casacore import tables
with tables.table({ms!r}, ack=False) as t:
    for c in ("DATA", "MODEL_DATA", "FLAG", "WEIGHT"):
        t.getcol(c)
"""
FLOOR_READ_DATA = """
from casacore import tables
with tables.table({ms!r}, ack=False) as t:
    for c in ("DATA", "FLAG", "WEIGHT"):
        t.getcol(c)
"""
FLOOR_READ_WRITE = """
from casacore import tables
with tables.table({ms!r}, readonly=False, ack=False) as t:
    t.putcol("CORRECTED_DATA", t.getcol("DATA"))
"""


def measure(cmd: list[str], env=None) -> tuple[float, float]:
    """(wall seconds, peak GB of PSS summed over the process tree) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_full_info().pss for p in procs))
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()}")
    return wall, peak / 2**30


def median_of(n: int, cmd: list[str], env=None) -> tuple[float, float]:
    runs = [measure(cmd, env) for _ in range(n)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ms", default="bench10.ms")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--pol", action="store_true", help="also time the polarisation chain")
    parser.add_argument("--model", action="store_true",
                        help="also time the solve with models computed instead of read")
    args = parser.parse_args()
    python, ms = sys.executable, os.path.abspath(args.ms)
    build(ms)
    folder = os.path.dirname(ms)
    solve_cfg, apply_cfg = (os.path.join(folder, f"bench_{n}.yaml") for n in ("solve", "apply"))
    cal = os.path.join(folder, "bench_cal.h5")
    with open(solve_cfg, "w") as fh:
        yaml.safe_dump({"solve": [{"ms": ms, "output": cal, "ref_ant": 0, "jones": ["K", "G"],
                                   "field": [["3C286", "J1407+2827"]] * 2,
                                   "time_interval": ["inf", "int"]}]}, fh)
    with open(apply_cfg, "w") as fh:
        yaml.safe_dump({"apply": [{"ms": ms, "target_field": ["3C286", "J1407+2827", "TARGET"],
                                   "jones": ["K", "G"], "tables": [cal, cal],
                                   "field_select": ["nearest_time", "nearest_sky"],
                                   "time_interp": ["exact", "linear"]}]}, fh)
    workers = ["--workers", str(args.workers)] if args.workers else []
    solve = [python, "-m", "alakazam", "run", solve_cfg, *workers]
    apply = [python, "-m", "alakazam", "run", apply_cfg, *workers]

    with tempfile.TemporaryDirectory() as cold:  # (e) an empty numba cache, then a warm one
        first, _ = measure(solve, {**os.environ, "NUMBA_CACHE_DIR": cold})
    subprocess.run(apply, check=True, capture_output=True)  # warm caches, CORRECTED_DATA made
    warm, _ = measure(solve)
    predicted = [float(re.search(r"predicted peak memory ([0-9.]+) GB", subprocess.run(
        [*cmd, "--dry-run"], capture_output=True, text=True, check=True).stdout).group(1))
        for cmd in (solve, apply)]

    n = args.repeat
    t_read, m_read = median_of(n, [python, "-c", FLOOR_READ.format(ms=ms)])
    t_solve, m_solve = median_of(n, solve)
    t_rw, m_rw = median_of(n, [python, "-c", FLOOR_READ_WRITE.format(ms=ms)])
    t_apply, m_apply = median_of(n, apply)
    t_start, _ = median_of(n, [*solve, "--dry-run"])
    print(f"read floor (DATA, MODEL_DATA, FLAG, WEIGHT): {t_read:.2f} s, {m_read:.2f} GB")
    print(f"solve K (inf) + G (int), 2 calibrators: {t_solve:.2f} s = {t_solve / t_read:.2f} x "
          f"read floor; peak {m_solve:.2f} GB (dry-run predicted {predicted[0]:.2f} GB)")
    print(f"read+write floor (DATA -> CORRECTED_DATA): {t_rw:.2f} s, {m_rw:.2f} GB")
    print(f"apply K + G, all fields: {t_apply:.2f} s = {t_apply / t_rw:.2f} x read+write floor; "
          f"peak {m_apply:.2f} GB (dry-run predicted {predicted[1]:.2f} GB)")
    print(f"numba compilation in a first run: {first - warm:.1f} s ({first:.1f} s cold, "
          f"{warm:.1f} s warm)")
    print(f"start-up of a run (--dry-run: imports, MS metadata, plan): {t_start:.2f} s")
    if args.pol:
        bench_pol(ms.replace(".ms", "-pol.ms"), n, workers)
    if args.model:
        bench_model(ms, solve_cfg, n, workers, t_solve)


def build(ms: str, *extra: str) -> None:
    """Simulate the benchmark MS (27 antennas, 1 h, 10 s, 2 SPW x 64 channels) unless it
    exists."""
    if os.path.exists(ms):
        return
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "alakazam", "simulate", ms, "--n-ant", "27",
                    "--duration", "3600", "--integration", "10", "--n-spw", "2", "--n-chan",
                    "64", "--scan-length", "300", *extra], check=True)
    print(f"simulate {ms}: {time.perf_counter() - t0:.1f} s")


def bench_pol(ms: str, n: int, workers: list[str]) -> None:
    """(g): the polarisation chain on 3C286 against the read floor of the same MS."""
    build(ms, "--schedule", "polcal")
    cfg = os.path.join(os.path.dirname(ms), "bench_pol.yaml")
    with open(cfg, "w") as fh:
        yaml.safe_dump({"solve": [{
            "ms": ms, "output": os.path.join(os.path.dirname(ms), "bench_pol.h5"), "ref_ant": 0,
            "apply_parang": True, "jones": ["K", "B", "G", "Kcross", "D", "Xf"],
            "field": "3C286", "time_interval": ["inf", "inf", "int", "inf", "inf", "inf"],
            "freq_interval": ["full", "1", "full", "full", "1", "full"]}]}, fh)
    solve = [sys.executable, "-m", "alakazam", "run", cfg, *workers]
    subprocess.run(solve, check=True, capture_output=True)  # warm the kernel caches
    t_read, _ = median_of(n, [sys.executable, "-c", FLOOR_READ.format(ms=ms)])
    t_pol, m_pol = median_of(n, solve)
    print(f"polcal MS read floor: {t_read:.2f} s; solve K, B, G, Kcross, D (per channel), Xf "
          f"on 3C286: {t_pol:.2f} s = {t_pol / t_read:.2f} x read floor; peak {m_pol:.2f} GB")


def bench_model(ms: str, solve_cfg: str, n: int, workers: list[str], t_column: float) -> None:
    """(h): the solve of (b) with computed models, against the read floor without MODEL_DATA."""
    with open(solve_cfg) as fh:
        config = yaml.safe_load(fh)
    config["solve"][0]["model"] = {"3C286": {"standard": "perley-butler-2017"},
                                   "J1407+2827": {"flux_jy": 2.3, "spix": -0.7,
                                                  "ref_freq": "1.4GHz"}}
    cfg = solve_cfg.replace(".yaml", "_model.yaml")
    with open(cfg, "w") as fh:
        yaml.safe_dump(config, fh)
    solve = [sys.executable, "-m", "alakazam", "run", cfg, *workers]
    subprocess.run(solve, check=True, capture_output=True)  # warm the kernel caches
    t_read, _ = median_of(n, [sys.executable, "-c", FLOOR_READ_DATA.format(ms=ms)])
    t_model, m_model = median_of(n, solve)
    print(f"read floor without MODEL_DATA (DATA, FLAG, WEIGHT): {t_read:.2f} s; solve K + G "
          f"with computed models: {t_model:.2f} s = {t_model / t_read:.2f} x that floor "
          f"({t_column:.2f} s reading MODEL_DATA); peak {m_model:.2f} GB")


if __name__ == "__main__":
    main()
