"""Running a solve block: plan the steps against the MS, then for each step, field and SPW
read the data once in time-ordered blocks, pre-apply the chain so far, flag RFI, accumulate
cell statistics, solve, reference and write the solutions.

Data flow: MS -> blocks -> preapply -> RFI flags -> cell statistics -> solver -> store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

import numpy as np

from alakazam.engine import rime
from alakazam.engine.config import POL_TYPES, SolveBlock, SolveStep
from alakazam.engine.errors import InputError
from alakazam.engine.grid import time_cells
from alakazam.engine.msmeta import MSMeta, read_meta, utc
from alakazam.engine.msread import from_matrix, time_slots, to_matrix
from alakazam.engine.executor import LocalExecutor, worker_memory_gb
from alakazam.engine.preapply import ChainTerm, chain_parts, correct, parang_jones
from alakazam.engine.refant import ref_order, resolve_antennas
from alakazam.engine.rfi import mad_flags
from alakazam.engine.selection import Selection, resolve_fields, resolve_scans, resolve_spws
from alakazam.engine.skymodel import FieldModel, field_model
from alakazam.engine.solution import Solution
from alakazam.engine.solvers import REASONS, SOLVERS
from alakazam.engine.solvers.common import SolveSettings
from alakazam.engine.store import SolutionWriter, read_solutions
from alakazam.engine.tiers import BlockSource

@dataclass(frozen=True)
class Task:
    """One solve: a step, a field and an SPW, with the scans and the time slots to use and
    the model (a column name, or a FieldModel computed per block).
    times: (n_slot,) MJD s; scans_of_time: (n_slot,)."""

    step_index: int
    step: SolveStep
    field_id: int
    scans: tuple[int, ...] | None
    spw_id: int
    times: np.ndarray
    scans_of_time: np.ndarray
    model: str | FieldModel


def columns(block: SolveBlock) -> tuple[str, ...]:
    """The data columns a solve block reads: data_col and every column model of its steps
    (none when every model is computed)."""
    models = [m.column for step in block.steps for m in step.models if m.column is not None]
    return tuple(dict.fromkeys([block.data_col] + models))


def model_copy(block: SolveBlock) -> bool:
    """Whether the model of a block of rows is a new array: turned by P (apply_parang) or by a
    pre-applied D, or an offset source (a column or a centred source is a view)."""
    return (block.apply_parang or any(e.jones == "D" for e in block.external)
            or any(step.jones == "D" for step in block.steps[:-1])
            or any(m.column is None and m.standard is None and any(m.offset)
                   for step in block.steps for m in step.models))


def _source(block: SolveBlock, meta: MSMeta, workers: int) -> BlockSource:
    return BlockSource(meta, columns(block), block.memory_limit_gb, workers, model_copy(block))


def plan(block: SolveBlock, key: str = "solve[0]",
         meta: MSMeta | None = None) -> tuple[MSMeta, list[list[Task]]]:
    """Check the block against its MS (whose metadata may be given, already read) and list the
    tasks of each step. Every selection that matches nothing is an InputError naming its key."""
    meta = meta or read_meta(block.ms)
    for col in columns(block):
        if col not in meta.columns:
            raise InputError(f"{key}: column {col} is not in {block.ms} "
                             f"(columns: {', '.join(c for c in meta.columns if c.endswith('DATA'))})")
    if not all({0, 3} <= set(p.slots) for p in meta.polarizations):
        raise InputError(f"{block.ms}: K and G need both parallel hands (XX, YY or RR, LL)")
    full = all(p.full for p in meta.polarizations)
    resolve_antennas(meta, block.ref_ant, f"{key}.ref_ant")
    steps = []
    solved: dict[tuple[str, int], int] = {}  # (Jones type, field id) -> step that solved it
    for i, step in enumerate(block.steps):
        where = f"{key} step {i} ({step.jones})"
        if step.jones in POL_TYPES and not full:
            names = ", ".join(sorted({c for p in meta.polarizations for c in p.corr_names}))
            raise InputError(f"{where}: jones {step.jones} needs all four correlations (the "
                             f"cross hands); {block.ms} has only {names}")
        try:
            field_ids = resolve_fields(meta, list(step.fields))
            spws = resolve_spws(meta, step.spw) if step.spw is not None else tuple(
                range(len(meta.spws)))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        tasks = []
        for fid, scan_spec, model in zip(field_ids, step.scans, step.models):
            if (step.jones, fid) in solved:
                raise InputError(f"{where}: field {meta.fields[fid].name} already has "
                                 f"{step.jones} solutions from step {solved[step.jones, fid]}; "
                                 f"an output holds one {step.jones} table per field (solve it "
                                 "in another block with its own output)")
            solved[step.jones, fid] = i
            try:
                scans = resolve_scans(meta, scan_spec, (fid,)) if scan_spec is not None else None
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
            for spw in spws:
                if step.jones == "K" and meta.spws[spw].n_chan < 2:
                    raise InputError(f"{where}: SPW {spw} has one channel; K needs several")
                times, scans_of_time = time_slots(meta, Selection((fid,), scans, (spw,)))
                if len(times):
                    try:
                        computed = field_model(model, meta, meta.fields[fid], spw)
                    except InputError as exc:
                        raise InputError(f"{where}: model: {exc}") from None
                    tasks.append(Task(i, step, fid, scans, spw, times, scans_of_time,
                                      model.column if computed is None else computed))
            if not any(t.field_id == fid for t in tasks):
                raise InputError(f"{where}: field {meta.fields[fid].name} has no data in the "
                                 "selected scans and SPWs")
        steps.append(tasks)
    return meta, steps


def describe_plan(block: SolveBlock, meta: MSMeta, steps: list[list[Task]],
                  workers: int = 1) -> list[str]:
    """Lines of the --dry-run report: per step, its passes with their memory tier and
    predicted peak memory, and each task's cells."""
    source = _source(block, meta, workers)
    lines = [f"solve {block.ms} -> {block.output} ({meta.basis}, {len(meta.antennas)} antennas)",
             f"  memory budget {source.budget / 2**30:.2f} GB; workers: {workers}"]
    peak = 0
    for i, tasks in enumerate(steps):
        step = block.steps[i]
        before = (["external"] if block.external else []) + [f"step {j}" for j in range(i)]
        lines.append(f"  step {i}: {step.jones} time_interval={step.time_interval.text} "
                     f"freq_interval={step.freq_interval.text} phase_only={step.phase_only} "
                     f"pre-applied: {', '.join(before) or 'nothing'}")
        solver = SOLVERS[step.jones]
        for p in passes(tasks):
            tp = source.plan(p.selection, book=True)
            task_lines, stats_bytes = [], 0
            for t in p.tasks:
                taxis = time_cells(t.times, t.scans_of_time, step.time_interval,
                                   meta.integration_time)
                faxis = solver.freq_axis(meta.spws[t.spw_id], step)
                nbytes = solver.statistics.nbytes(taxis.n, faxis.n, len(meta.antennas))
                stats_bytes += nbytes
                task_lines.append(f"      SPW {t.spw_id}: {len(t.times)} integrations, "
                                  f"{taxis.n} time x {faxis.n} freq cells, statistics "
                                  f"{nbytes / 2**20:.1f} MB, model {_label(t.model)}")
            peak = max(peak, tp.peak_bytes + stats_bytes)
            lines.append(f"    field {meta.fields[p.field_id].name}: tier {tp.tier} "
                         f"({_TIERS[tp.tier]}), blocks of up to {tp.rows_per_block} rows, "
                         f"predicted peak {(tp.peak_bytes + stats_bytes) / 2**30:.2f} GB")
            lines += task_lines
    lines.append(f"  predicted peak memory {peak / 2**30:.2f} GB (all processes)")
    return lines


_TIERS = {1: "read once, kept in RAM", 2: "batches of time slots", 3: "slots split into rows"}


@dataclass(frozen=True)
class Pass:
    """One read of a field's rows for a step: the step's tasks on that field (one per SPW),
    fed block by block from a single pass over the data."""

    step_index: int
    field_id: int
    scans: tuple[int, ...] | None
    tasks: tuple[Task, ...]

    @property
    def selection(self) -> Selection:
        return Selection((self.field_id,), self.scans, tuple(t.spw_id for t in self.tasks))


def passes(tasks: list[Task]) -> list[Pass]:
    """The step's tasks grouped by field and scans, in the order of the tasks."""
    groups: dict[tuple, list[Task]] = {}
    for t in tasks:
        groups.setdefault((t.field_id, t.scans), []).append(t)
    return [Pass(ts[0].step_index, fid, scans, tuple(ts)) for (fid, scans), ts in groups.items()]


def run_solve(block: SolveBlock, key: str = "solve[0]", progress=None,
              live_dir: str | None = None, workers: int = 1,
              executor: LocalExecutor | None = None) -> list[Solution]:
    """Run every step of `block`, writing its output file; returns the solutions.

    Each step's passes (one per field) run on `executor` (default: `workers` forked
    processes, which only get a pass index and return solutions; tier-1 data are read first
    and shared copy-on-write). On a Dask executor each (field, SPW) is a task that reads its
    own rows (solve_remote).
    progress(step_index, done, total, label, live) is called after each (field, SPW) task;
    with `live_dir`, each finished table is also written there as a complete file of its own
    (live = its path, else None), so that it can be inspected while the run goes on."""
    meta, steps = plan(block, key)
    executor = executor or LocalExecutor(workers)
    chain = [_external_term(ext, meta) for ext in block.external]
    source = _source(block, meta, executor.workers)
    solutions = []
    root = {"ms": block.ms, "ref_ant": list(block.ref_ant),
            "antenna_names": list(meta.antennas.names), "feed_basis": meta.basis}
    with SolutionWriter(block.output, root) as writer:
        for i, tasks in enumerate(steps):
            step = block.steps[i]
            step_passes = passes(tasks)
            step_solutions = []
            if executor.distributed:
                results = executor.map(
                    partial(solve_remote, block, meta), _per_spw(step_passes),
                    lambda p: _describe(key, meta, p), chain=chain)
            else:
                for p in step_passes:
                    source.prefetch(p.selection)
                results = executor.map(lambda p: solve_pass(block, meta, p, chain, source),
                                       _balanced(step_passes, source))
            for sol in (sol for pass_solutions in results for sol in pass_solutions):
                writer.write(sol)
                step_solutions.append(sol)
                live = _write_live(live_dir, key, i, sol, root) if live_dir else None
                if progress is not None:
                    progress(i, len(step_solutions), len(tasks), f"{step.jones} "
                             f"{sol.field_name} SPW {sol.spw_id}", live)
            chain.append(ChainTerm(step_solutions, "same_field", step.preapply_time_interp, {
                "source": "internal", "table": block.output, "step": i, "jones": step.jones,
                "fields": sorted({s.field_name for s in step_solutions}),
                "field_select": "same_field", "time_interp": step.preapply_time_interp}))
            solutions += step_solutions
    return solutions


def _balanced(step_passes: list[Pass], source: BlockSource) -> list[Pass]:
    """The passes to dispatch: a pass whose data are in the tier-1 cache is split into one
    pass per SPW (no extra read), so that workers get pieces of similar size."""
    out = []
    for p in step_passes:
        out += [p] if source.cached(p.selection) is None else _per_spw([p])
    return out


def _per_spw(step_passes: list[Pass]) -> list[Pass]:
    """One pass per (field, SPW): what a Dask task reads (its SPW's rows only)."""
    return [Pass(p.step_index, p.field_id, p.scans, (t,)) for p in step_passes for t in p.tasks]


def _describe(key: str, meta: MSMeta, p: Pass) -> str:
    """What a pass is, for a report of its failure: block, step, field, SPWs, times."""
    t = p.tasks[0]
    return (f"{key} step {p.step_index} ({t.step.jones}) field {meta.fields[p.field_id].name} "
            f"SPW {','.join(str(x.spw_id) for x in p.tasks)} times {utc(t.times[0])} - "
            f"{utc(t.times[-1], '%H:%M:%S')} UTC")


def solve_remote(block: SolveBlock, meta: MSMeta, p: Pass, chain: list[ChainTerm]
                 ) -> list[Solution]:
    """solve_pass on a Dask worker: it reads its own rows, its tiers bounded by the smaller
    of the block's memory_limit_gb and the worker's memory limit."""
    limits = [v for v in (block.memory_limit_gb, worker_memory_gb()) if v > 0]
    source = BlockSource(meta, columns(block), min(limits) if limits else 0.0, 1,
                         model_copy(block))
    return solve_pass(block, meta, p, chain, source)


def _write_live(live_dir: str, key: str, step: int, sol: Solution, root: dict) -> str:
    """One finished table as a complete solution file of its own in `live_dir`; its path."""
    path = os.path.join(live_dir, f"{key}-step{step}-{sol.jones_type}-{sol.field_name}-"
                                  f"spw{sol.spw_id}.h5")
    with SolutionWriter(path, root) as writer:
        writer.write(sol)
    return path


def _external_term(ext, meta: MSMeta) -> ChainTerm:
    sols = read_solutions(ext.table, ext.jones, {w.id: w.freqs for w in meta.spws})
    if not sols:
        raise InputError(f"{ext.table}: no {ext.jones} solutions in it")
    return ChainTerm(sols, ext.field_select, ext.time_interp, {
        "source": "external", "table": os.path.abspath(ext.table), "jones": ext.jones,
        "fields": sorted({s.field_name for s in sols}), "field_select": ext.field_select,
        "time_interp": ext.time_interp, "solution_field": ext.solution_field},
        solution_field=ext.solution_field)


def solve_pass(block: SolveBlock, meta: MSMeta, p: Pass, chain: list[ChainTerm],
               source: BlockSource) -> list[Solution]:
    """Read the pass's rows once (all its SPWs), pre-apply, flag and accumulate each SPW's
    blocks into its task's cells; solve each task."""
    fld = meta.fields[p.field_id]
    step = p.tasks[0].step
    solver = SOLVERS[step.jones]
    by_spw = {}
    for task in p.tasks:
        taxis = time_cells(task.times, task.scans_of_time, step.time_interval,
                           meta.integration_time)
        faxis = solver.freq_axis(meta.spws[task.spw_id], step)
        by_spw[task.spw_id] = (task, taxis, faxis,
                               solver.statistics.zeros(taxis.n, faxis.n, len(meta.antennas)))
    for vb in source.blocks(p.selection):
        task, taxis, faxis, stats = by_spw[vb.spw_id]
        times, tslot = vb.time_slots()
        tcell = taxis.index[np.searchsorted(task.times, times)][tslot]
        data, weight, flag = vb.vis[block.data_col], vb.weight, vb.flag  # shared: read only
        leak = None
        if chain:
            diag, leak, jflags = chain_parts(chain, task.spw_id, fld.name, fld.ra, fld.dec,
                                             times, meta.spws[task.spw_id].freqs,
                                             len(meta.antennas))
            data, weight, flag = correct(vb, block.data_col, diag, jflags, tslot)
        model = _model(meta, fld, vb, block, times, tslot, leak, task.model)
        hands = [vb.slots.index(0), vb.slots.index(3)]
        rfi = mad_flags(data, model, flag, hands, block.rfi_threshold)
        stats.add(data, model, weight, flag, rfi, tcell, faxis.index, vb.ant1, vb.ant2, vb.slots)
    return [_solve_cells(block, meta, chain, *by_spw[t.spw_id]) for t in p.tasks]


def _solve_cells(block: SolveBlock, meta: MSMeta, chain: list[ChainTerm], task: Task, taxis,
                 faxis, stats) -> Solution:
    """Solve one task's accumulated cells and attach its provenance."""
    step, spw = task.step, meta.spws[task.spw_id]
    fld = meta.fields[task.field_id]
    solver = SOLVERS[step.jones]
    counts = stats.antenna_counts()
    with_data = int((counts > 0).sum())
    settings = SolveSettings(step.phase_only, step.min_snr, block.max_iter, block.tol,
                             ref_order(meta, block.ref_ant, counts),
                             max(1, min(4, with_data - 1)),
                             tuple(term.provenance["jones"] for term in chain))
    header = {"jones_type": step.jones, "field_id": fld.id, "field_name": fld.name,
              "field_ra": fld.ra, "field_dec": fld.dec, "spw_id": task.spw_id}
    sol = solver.solve(stats, taxis, faxis, spw, step, settings, header)
    sol.attrs = {
        "scan_ids": sorted({int(s) for s in task.scans_of_time}),
        "ref_ant": [int(a) for a in settings.ref_order[:5]],
        "time_interval": step.time_interval.text, "freq_interval": step.freq_interval.text,
        "phase_only": step.phase_only, "min_snr": step.min_snr, "data_col": block.data_col,
        "model": _label(task.model), "apply_parang": block.apply_parang,
        "rfi_threshold": block.rfi_threshold, "ms": block.ms, "feed_basis": meta.basis,
        "preapply_chain": [term.provenance for term in chain],
        "reason_codes": {str(k): v for k, v in REASONS.items()},
    }
    return sol


def _label(model: str | FieldModel) -> str:
    """What a task's model is: the column name, or the computed model's label."""
    return model if isinstance(model, str) else model.label


def _model(meta, fld, vb, block, times, tslot, leak, source: str | FieldModel) -> np.ndarray:
    """The model (the column `source`, or computed from its FieldModel) as the data see it
    once the diagonal terms are corrected: (L_p P_p) M (L_q P_q)^H with L the chain's leakage
    (n_T, n_chan, n_ant, 2, 2) or None, P the parallactic (and receptor) rotation when
    apply_parang is set; (n_row, n_chan, n_corr). A column is returned untouched when there
    is neither."""
    if isinstance(source, str):
        model = vb.vis[source]
    else:
        model = source.visibilities(vb.uvw, meta.spws[vb.spw_id].freqs, vb.slots)
    if leak is None and not block.apply_parang:
        return model
    if not block.apply_parang:
        jones = leak
    else:
        rot = parang_jones(meta, fld, times)[:, None]  # (n_T, 1, n_ant, 2, 2)
        jones = rot if leak is None else leak @ rot
        jones = np.broadcast_to(jones, (len(times), model.shape[1]) + jones.shape[2:])
    mat = to_matrix(model, vb.slots)
    out = np.empty_like(mat)
    rime.sandwich(np.ascontiguousarray(jones), mat, tslot, vb.ant1, vb.ant2, out)
    return from_matrix(out, vb.slots)
