"""Time the MS reader against raw casacore column reads (see README.md)."""

from __future__ import annotations

import argparse
import os
import time

from casacore import tables

from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate

BENCH = SimOptions(n_ant=27, n_spw=2, n_chan=64, duration=3600.0, integration=8.0,
                   scan_length=300.0)
COLUMNS = ("TIME", "ANTENNA1", "ANTENNA2", "FIELD_ID", "SCAN_NUMBER", "DATA_DESC_ID", "UVW",
           "FLAG", "FLAG_ROW", "WEIGHT_SPECTRUM", "DATA", "MODEL_DATA")


def best_of(n, fn):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def raw(path):
    with tables.table(path, ack=False) as tab:
        for col in COLUMNS:
            tab.getcol(col)


def blocks(path):
    meta = read_meta(path)
    for _ in iter_blocks(meta, select(meta), ("DATA", "MODEL_DATA")):
        pass


def arguments(description: str):
    """--ms and --repeat; the benchmark MS is simulated (and timed) if absent."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--ms", default="bench.ms")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not os.path.exists(args.ms):
        t0 = time.perf_counter()
        simulate(args.ms, BENCH)
        print(f"simulate: {time.perf_counter() - t0:.1f} s")
    return args


def main():
    args = arguments(__doc__)
    meta = read_meta(args.ms)
    t_raw = best_of(args.repeat, lambda: raw(args.ms))
    t_blocks = best_of(args.repeat, lambda: blocks(args.ms))
    t_meta = best_of(args.repeat, lambda: read_meta(args.ms))
    print(f"{meta.n_rows} rows; raw column reads {t_raw:.2f} s")
    print(f"iter_blocks (DATA, MODEL_DATA): {t_blocks:.2f} s = {t_blocks / t_raw:.2f} x raw")
    print(f"read_meta: {t_meta:.3f} s = {t_meta / t_raw:.3f} x raw")


if __name__ == "__main__":
    main()
