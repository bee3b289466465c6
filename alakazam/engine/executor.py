"""Where the independent pieces of a run execute: solve passes and apply chunks.

LocalExecutor runs them on forked processes of this machine (parallel.run_passes), the
default. DaskExecutor runs them as tasks on a Dask distributed cluster: an existing scheduler,
or a LocalCluster started for the run. Dask workers cannot share this process's memory, so a
task carries what to read (a pass: field, scans, SPW; or an apply chunk's row numbers), never
visibilities; each worker reads its own rows, bounded by the same tier logic under its own
memory limit, and returns its results, which this process gathers in order and writes exactly
as the local path does. Dask retries a failed task RETRIES times and reschedules the tasks of
a worker that dies; a task that still fails raises TaskFailed naming what it was.
"""

from __future__ import annotations

from alakazam.engine.config import ExecutorSpec
from alakazam.engine.errors import InputError, TaskFailed
from alakazam.engine.parallel import default_workers, run_passes

RETRIES = 2


class LocalExecutor:
    """Forked processes on this machine (`workers` of them)."""

    distributed = False

    def __init__(self, workers: int = 1):
        self.workers = workers

    def map(self, fn, items: list, describe=str, **shared):
        """Yield fn(item, **shared) for each item, in order."""
        yield from run_passes(lambda item: fn(item, **shared), items, self.workers)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DaskExecutor(LocalExecutor):
    """Tasks on a Dask distributed cluster. on_result(index, pending) is called after each
    result is gathered, with the number of tasks of the map not finished yet (for tests)."""

    distributed = True

    def __init__(self, spec: ExecutorSpec, on_result=None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("executor dask: dask and distributed are not installed "
                             "(pip install 'alakazam[dask]')") from None
        self.on_result = on_result
        self.cluster = None
        if spec.scheduler == "local":
            memory = f"{spec.memory_limit_gb}GB" if spec.memory_limit_gb else "auto"
            self.cluster = LocalCluster(n_workers=spec.n_workers or default_workers(),
                                        threads_per_worker=1, processes=True,
                                        memory_limit=memory, dashboard_address=None)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(spec.scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"executor.scheduler {spec.scheduler}: cannot connect "
                                 f"({str(exc).splitlines()[0]})") from None
        super().__init__(max(1, len(self.client.scheduler_info()["workers"])))

    def map(self, fn, items: list, describe=str, **shared):
        """Yield fn(item, **shared) for each item, in order; `shared` values are sent to every
        worker once. A task failing RETRIES + 1 times raises TaskFailed(describe(item))."""
        shared = {k: self.client.scatter([v], broadcast=True)[0] for k, v in shared.items()}
        futures = self.client.map(fn, items, **shared, retries=RETRIES, pure=False)
        try:
            for i, (item, future) in enumerate(zip(items, futures)):
                try:
                    result = future.result()
                except Exception as exc:
                    raise TaskFailed(f"{describe(item)}: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
                if self.on_result is not None:
                    self.on_result(i, sum(not f.done() for f in futures))
                yield result
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(spec: ExecutorSpec, workers: int) -> LocalExecutor:
    """The executor `spec` asks for (`workers`: processes of the local one)."""
    return DaskExecutor(spec) if spec.kind == "dask" else LocalExecutor(workers)


def worker_memory_gb() -> float:
    """The memory limit (GB) of the Dask worker running this task, 0 when it has none or
    this is not a Dask worker."""
    try:
        from distributed import get_worker

        limit = get_worker().memory_manager.memory_limit
    except (ImportError, ValueError, AttributeError):
        return 0.0
    return (limit or 0) / 2**30
