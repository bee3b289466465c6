"""Running a step's passes on forked worker processes, and overlapping reads, computation
and writes on threads.

The parent holds everything a pass needs (the config, the MS metadata, the chain so far and
the tier-1 data); after fork a worker receives only the index of its pass and returns only its
solutions. Workers ignore SIGINT: Ctrl-C reaches the parent, whose pool then terminates them,
so no process outlives the run. Numba and BLAS use one thread per process (configure_process,
called first by the CLI, sets it for the whole process tree), so workers x threads <= cores.

An MS is written by one process (casacore tables are not safely written from several), so an
apply overlaps its stages instead: blocks are read on one thread (`prefetched`), corrected by
numba kernels that release the GIL on the main thread, and written on another (`Writer`).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading

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


_END = object()


def prefetched(iterable, depth: int = 1):
    """Yield the items of `iterable`, produced up to `depth` items ahead on a background
    thread. Closing this generator (or an exception in its consumer) stops the thread and
    closes `iterable` there."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        source = iter(iterable)
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)
        finally:
            if hasattr(source, "close"):
                source.close()

    thread = threading.Thread(target=produce, name="alakazam-read", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


class Writer:
    """Calls fn(*args) submitted in order, on a background thread, with at most `depth` calls
    waiting. An error in a call is raised by the next submit or at the end of the `with`
    block; on leaving the block the waiting calls are finished (after an exception they are
    dropped, but a call already running completes: no write is cut in half)."""

    def __init__(self, depth: int = 1):
        self._calls: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="alakazam-write", daemon=True)

    def __enter__(self) -> "Writer":
        self._thread.start()
        return self

    def submit(self, fn, *args) -> None:
        self._raise()
        self._calls.put((fn, args))

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # drop what waits; the running call completes
            while True:
                try:
                    self._calls.get_nowait()
                except queue.Empty:
                    break
        self._calls.put(None)
        self._thread.join()
        if exc_type is None:
            self._raise()

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            if self._error is None:
                try:
                    call[0](*call[1])
                except BaseException as exc:
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
