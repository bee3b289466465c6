"""The local executor against a Dask LocalCluster (see README.md, Performance).

On the benchmark MS of bench_run.py (built once: 27 antennas, 1 h, 10 s, 2 SPW x 64 channels,
1 GB), times whole `alakazam run` processes, each repeated and the median taken, of
  (a) the solve K (inf) + G (every integration) on both calibrators, and
  (b) the apply of K + G to every field,
with the local executor (forked processes) and with `--scheduler local` (a LocalCluster
started by the run: its start-up is in the figure), each with 1 and 2 workers.

    python benchmarks/bench_dask.py [--ms bench10.ms] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import yaml

from bench_run import build, median_of


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ms", default="bench10.ms")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ms = os.path.abspath(args.ms)
    build(ms)
    folder = os.path.dirname(ms)
    cal = os.path.join(folder, "bench_dask_cal.h5")
    configs = {
        "solve": {"solve": [{"ms": ms, "output": cal, "ref_ant": 0, "jones": ["K", "G"],
                             "field": [["3C286", "J1407+2827"]] * 2,
                             "time_interval": ["inf", "int"]}]},
        "apply": {"apply": [{"ms": ms, "target_field": ["3C286", "J1407+2827", "TARGET"],
                             "jones": ["K", "G"], "tables": [cal, cal],
                             "field_select": ["nearest_time", "nearest_sky"],
                             "time_interp": ["exact", "linear"]}]},
    }
    paths = {}
    for job, config in configs.items():
        paths[job] = os.path.join(folder, f"bench_dask_{job}.yaml")
        with open(paths[job], "w") as fh:
            yaml.safe_dump(config, fh)
    base = [sys.executable, "-m", "alakazam", "run"]
    subprocess.run([*base, paths["solve"]], check=True, capture_output=True)  # warm up
    for job in ("solve", "apply"):
        for workers in (1, 2):
            local, _ = median_of(args.repeat, [*base, paths[job], "--workers", str(workers)])
            dask, _ = median_of(args.repeat, [*base, paths[job], "--workers", str(workers),
                                              "--scheduler", "local"])
            print(f"{job}, {workers} worker(s): local {local:.2f} s, LocalCluster {dask:.2f} s "
                  f"({dask / local:.2f} x)")


if __name__ == "__main__":
    main()
