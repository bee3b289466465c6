"""Running a step's passes on forked worker processes.

The parent holds everything a pass needs (the config, the MS metadata, the chain so far and
the tier-1 data); after fork a worker receives only the index of its pass and returns only its
solutions. Workers ignore SIGINT: Ctrl-C reaches the parent, whose pool then terminates them,
so no process outlives the run. Numba and BLAS use one thread per process (configure_process,
called first by the CLI, sets it for the whole process tree), so workers x threads <= cores.
"""

from __future__ import annotations

import multiprocessing
import os
import signal

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")
_JOB: tuple | None = None  # (function, items) of the running map, inherited by the workers


def configure_process() -> None:
    """Set up this process (before numba or numpy is imported) for the engine: one compute
    thread per process, so that workers x threads <= cores."""
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def run_passes(fn, items: list, workers: int):
    """Yield fn(item) for each item, in order; on min(workers, len(items)) forked processes
    when that is more than one."""
    global _JOB
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield fn(item)
        return
    _JOB = (fn, items)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, len(items)), initializer=_ignore_sigint) as pool:
            yield from pool.imap(_run, range(len(items)))
    finally:
        _JOB = None


def _run(index: int):
    fn, items = _JOB
    return fn(items[index])


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
