"""Applying a chain of solution tables to target fields: V_corr = J_p^-1 V J_q^-H.

For each time-ordered block of the target rows, every table's Jones matrices are picked by
its field-selection rule, interpolated at the block's times and channels (interp.py, the same
module the solve chain uses) and composed as CONVENTIONS.md says, J = (diagonal terms) . D
(. P, the parallactic rotation, when apply_parang); the data are corrected by a numba kernel
and written to output_col.
Samples under flagged or singular Jones matrices are flagged, never divided by zero. DATA is
never written; FLAG is saved as a flag version before its first change, so a run can be undone
(`alakazam restore-flags`) and re-run: it reads DATA only, so a re-run gives the same result.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from functools import partial

import numpy as np

from alakazam.engine import flagversions
from alakazam.engine.config import ApplyBlock
from alakazam.engine.errors import InputError
from alakazam.engine.executor import LocalExecutor
from alakazam.engine.msmeta import MSMeta, open_table, read_meta
from alakazam.engine.msread import iter_blocks, read_rows, row_chunks
from alakazam.engine.mswrite import add_column, copy_column, write_rows
from alakazam.engine.parallel import Writer, prefetched
from alakazam.engine.preapply import ChainTerm, chain_jones, correct, parang_jones
from alakazam.engine.selection import Selection, resolve_fields, resolve_scans, resolve_spws
from alakazam.engine.store import read_solutions
from alakazam.engine.tiers import apply_plan

def plan_apply(block: ApplyBlock, key: str = "apply[0]"):
    """Check the block against its MS and tables: (meta, selection, chain terms, spw map)."""
    meta = read_meta(block.ms)
    if "DATA" not in meta.columns:
        raise InputError(f"{block.ms}: no DATA column to calibrate")
    try:
        field_ids = resolve_fields(meta, list(block.target_fields))
        spws = resolve_spws(meta, block.spw) if block.spw is not None else tuple(
            range(len(meta.spws)))
        scans = resolve_scans(meta, block.scans, field_ids) if block.scans is not None else None
    except InputError as exc:
        raise InputError(f"{key}: {exc}") from None
    spw_map = {s: (block.spwmap[s] if s < len(block.spwmap) else s) for s in spws}
    terms = []
    for i, ext in enumerate(block.terms):
        sols = read_solutions(ext.table, ext.jones, {w.id: w.freqs for w in meta.spws})
        if not sols:
            raise InputError(f"{key}.tables[{i}]: {ext.table} has no {ext.jones} solutions")
        if ext.jones == "D" and not all(p.full for p in meta.polarizations):
            raise InputError(f"{key}.tables[{i}]: D mixes the hands; {block.ms} lacks the "
                             "cross-hand correlations it needs")
        if sols[0].n_ant != len(meta.antennas):
            raise InputError(f"{key}.tables[{i}]: {ext.table} has {sols[0].n_ant} antennas, "
                             f"{block.ms} has {len(meta.antennas)}")
        names = sorted({s.field_name for s in sols})
        if ext.field_select == "pinned" and str(ext.solution_field) not in names:
            raise InputError(f"{key}.solution_field[{i}]: {ext.solution_field!r} has no "
                             f"{ext.jones} solutions in {ext.table} (fields: {', '.join(names)})")
        have = {s.spw_id for s in sols}
        for target, source in spw_map.items():
            if source not in have:
                raise InputError(f"{key}.spwmap: SPW {target} needs {ext.jones} solutions of "
                                 f"SPW {source}, {ext.table} has SPWs {sorted(have)}")
        terms.append(ChainTerm(sols, ext.field_select, ext.time_interp, {
            "table": ext.table, "jones": ext.jones}, solution_field=ext.solution_field))
    return meta, Selection(field_ids, scans, spws), terms, spw_map


def run_apply(block: ApplyBlock, key: str = "apply[0]", progress=None,
              executor: LocalExecutor | None = None) -> dict:
    """Apply the chain; returns counts {rows, samples, flagged_by_solutions}.
    progress(done_rows, total_rows) after each block is written. Reading the next block,
    correcting this one and writing the previous one overlap (parallel.py). On a Dask
    executor each chunk of rows is a task that reads and corrects its rows (correct_rows);
    this process writes what comes back, in order."""
    meta, selection, terms, spw_map = plan_apply(block, key)
    if add_column(block.ms, block.output_col, "calibrated data written by alakazam"):
        copy_column(block.ms, "DATA", block.output_col)  # as CASA initialises it
    flagversions.save(block.ms, f"before_apply_{block.output_col}")
    total = sum(meta.fields[f].n_rows for f in selection.field_ids)
    counts = {"rows": 0, "samples": 0, "flagged_by_solutions": 0}

    distributed = executor is not None and executor.distributed

    def write(rows, ddid, corrected, flag):
        write_rows(tab, meta, rows, ddid, {block.output_col: corrected, "FLAG": flag})
        if distributed:  # casacore's table lock: let the workers read between our writes
            tab.unlock()
        counts["rows"] += len(rows)
        if progress is not None:
            progress(counts["rows"], total)

    n_rows, _ = apply_plan(meta, block.memory_limit_gb)
    tab = open_table(block.ms, readonly=False)
    try:
        with closing(_corrected(block, key, meta, selection, terms, spw_map, n_rows,
                                executor if distributed else None)) as results, \
                Writer() as writer:
            for rows, ddid, corrected, flag, flagged_before in results:
                counts["flagged_by_solutions"] += int(np.count_nonzero(flag)) - flagged_before
                counts["samples"] += flag.size
                writer.submit(write, rows, ddid, corrected, flag)
    finally:
        tab.close()
    return counts


def _corrected(block, key, meta, selection, terms, spw_map, n_rows, executor):
    """(rows, ddid, corrected DATA, FLAG, flags set before) of each block of the selection,
    in reading order: read ahead on a thread here, or by the tasks of a distributed
    `executor` (None: here)."""
    if executor is not None:
        chunks = row_chunks(meta, selection, n_rows)
        for result in executor.map(partial(correct_rows, block, meta, spw_map), chunks,
                                   lambda rows: f"{key} rows {rows[0]}-{rows[-1]}",
                                   terms=terms):
            yield from result
        return
    with closing(prefetched(iter_blocks(meta, selection, ("DATA",), n_rows,
                                        weights=False))) as blocks:
        for vb in blocks:
            yield (vb.rows, vb.ddid, *_correct_block(block, meta, terms, spw_map, vb),
                   int(np.count_nonzero(vb.flag)))


def correct_rows(block: ApplyBlock, meta: MSMeta, spw_map: dict, rows: np.ndarray,
                 terms: list[ChainTerm]) -> list[tuple]:
    """A Dask task: read the chunk of rows `rows` and correct it; the blocks' (rows, ddid,
    corrected DATA, FLAG, flags set before)."""
    return [(vb.rows, vb.ddid, *_correct_block(block, meta, terms, spw_map, vb),
             int(np.count_nonzero(vb.flag)))
            for vb in read_rows(meta, rows, ("DATA",), weights=False)]


def _correct_block(block: ApplyBlock, meta: MSMeta, terms: list[ChainTerm], spw_map: dict,
                   vb) -> tuple[np.ndarray, np.ndarray]:
    """The corrected DATA (n_row, n_chan, n_corr) complex64 and FLAG of one block, each
    field's rows with that field's chain."""
    corrected = np.empty_like(vb.vis["DATA"])
    flag = np.empty_like(vb.flag)
    for rows in _field_runs(vb.field):  # rows are time-ordered: a field is a run
        part = _subblock(vb, rows)
        times, tslot = part.time_slots()
        fld = meta.fields[int(vb.field[rows.start])]
        jones, jflags = chain_jones(terms, spw_map[vb.spw_id], fld.name, fld.ra, fld.dec,
                                    times, meta.spws[vb.spw_id].freqs, len(meta.antennas))
        if block.apply_parang:
            jones = jones @ parang_jones(meta, fld, times)[:, None]
        correct(part, "DATA", jones, jflags, tslot, weights=False,
                out=(corrected[rows], flag[rows]))
    return corrected, flag


def _field_runs(field: np.ndarray) -> list[slice]:
    """Slices of the runs of equal values in `field` (n_row,)."""
    breaks = np.flatnonzero(field[1:] != field[:-1]) + 1
    return [slice(int(a), int(b)) for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(field)])]


def _subblock(vb, rows: slice):
    """The rows `rows` of a VisBlock as a VisBlock (views of the arrays)."""
    return replace(vb, rows=vb.rows[rows], time=vb.time[rows], ant1=vb.ant1[rows],
                   ant2=vb.ant2[rows], field=vb.field[rows], scan=vb.scan[rows],
                   uvw=vb.uvw[rows], flag=vb.flag[rows], weight=vb.weight[rows],
                   vis={k: v[rows] for k, v in vb.vis.items()})
