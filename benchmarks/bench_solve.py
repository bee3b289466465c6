"""Time `alakazam run` of a K -> G -> B chain on the benchmark MS against the raw cost of
reading the columns it needs (see README.md). Writes bench_solve.yaml beside the MS."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml
from bench_read import arguments, best_of, raw


def main():
    args = arguments(__doc__)
    config = os.path.join(os.path.dirname(os.path.abspath(args.ms)), "bench_solve.yaml")
    with open(config, "w") as fh:
        yaml.safe_dump({"solve": [{
            "ms": os.path.abspath(args.ms), "output": "bench_cal.h5", "ref_ant": 0,
            "apply_parang": True, "jones": ["K", "G", "B", "G"],
            "field": [["3C286"], ["3C286"], ["3C286"], ["J1407+2827"]],
            "time_interval": ["inf", "inf", "inf", "60s"]}]}, fh)
    t_raw = best_of(args.repeat, lambda: raw(args.ms))
    cmd = [sys.executable, "-m", "alakazam", "run", config]
    subprocess.run(cmd, check=True, capture_output=True)  # compile and cache the kernels
    t_run = best_of(args.repeat, lambda: subprocess.run(cmd, check=True, capture_output=True))
    print(f"raw column reads {t_raw:.2f} s; alakazam run (K, G, B on 3C286, G 60 s on J1407+2827): "
          f"{t_run:.2f} s = {t_run / t_raw:.2f} x raw")


if __name__ == "__main__":
    main()
