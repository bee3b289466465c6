"""Memory planning: the tiers of a solve (the design's three) and the blocks of an apply.

  tier 1  the selection fits in the cache share of the budget: read once and kept in RAM for
          every step that uses it (blocks are shared and never modified);
  tier 2  batches of whole time slots, as many rows as the budget allows, read at each use;
  tier 3  one time slot alone exceeds that: slots are split into batches of rows (the cell
          statistics accumulate progressively, so the result is the same).

The budget is memory_limit_gb, or half the available RAM (psutil). Half of it may hold tier-1
caches; the other half is for the blocks being processed, one per worker, and their working
copies. The predicted peak is the proportional set size of the process tree (pages a forked
worker shares with its parent counted once): BASE_BYTES + cached data + per worker
(WORKER_BYTES + its block's working copies). The byte counts per sample are measured (README,
Performance).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import psutil

from alakazam.engine.msmeta import MSMeta
from alakazam.engine.msread import VisBlock, iter_blocks, selected_rows
from alakazam.engine.selection import Selection

COLUMN_BYTES = 8  # per sample kept of each data column read (complex64)
KEPT_BYTES = 6  # per sample kept besides the columns: weight float32, flag, margin
WORKING_BYTES = 16  # per sample processed: corrected data, weight, flags, RFI flags
MODEL_COPY_BYTES = 8  # per sample processed when the model is a new array (turned by P or D, an
# offset source); a column read, or a computed model at the phase centre (a view of one row),
# adds nothing
APPLY_BYTES = 18  # per sample of an apply block: data, corrected data, both flags
APPLY_BLOCKS = 2  # apply blocks alive at once on average, measured (up to 4 can be: being
# read, queued, corrected and written, but the stages rarely all hold one together)
BASE_BYTES = 250 * 2**20  # the interpreter, numpy, numba and casacore themselves
WORKER_BYTES = 30 * 2**20  # what a forked worker adds besides its block
APPLY_BLOCK_DATA = 32 * 2**20  # DATA per apply block: small blocks keep the stages overlapped


def budget_bytes(memory_limit_gb: float) -> int:
    """The memory a run may use: the limit, or half the RAM available now."""
    return int(memory_limit_gb * 2**30 or psutil.virtual_memory().available / 2)


@dataclass(frozen=True)
class TierPlan:
    """How one selection is read: tier (1, 2, 3), rows per block, and the predicted peak
    memory of processing it (bytes, process total)."""

    tier: int
    rows_per_block: int
    peak_bytes: int


def max_samples(meta: MSMeta) -> int:
    """Samples (channels x correlations) in the largest row."""
    return max(s.n_chan for s in meta.spws) * max(len(p.slots) for p in meta.polarizations)


def apply_plan(meta: MSMeta, memory_limit_gb: float) -> tuple[int, int]:
    """Rows per apply block and the predicted peak memory (bytes) of an apply."""
    sample = max_samples(meta)
    by_budget = budget_bytes(memory_limit_gb) / (APPLY_BLOCKS * sample * APPLY_BYTES)
    rows = max(1, int(min(by_budget, APPLY_BLOCK_DATA / (8 * sample))))
    return rows, BASE_BYTES + APPLY_BLOCKS * rows * sample * APPLY_BYTES


class BlockSource:
    """Blocks of the selections of one solve block, read according to their tier. `columns`:
    the data columns it reads (solve.columns); model_copy: whether each block's model is a new
    array (solve.model_copy)."""

    def __init__(self, meta: MSMeta, columns: tuple[str, ...], memory_limit_gb: float,
                 workers: int = 1, model_copy: bool = False):
        self.meta = meta
        self.columns = columns
        self.workers = workers
        self.budget = budget_bytes(memory_limit_gb)
        self.sample = max_samples(meta)
        self.cached_bytes = COLUMN_BYTES * len(columns) + KEPT_BYTES  # per sample kept
        self.working_bytes = WORKING_BYTES + (MODEL_COPY_BYTES if model_copy else 0)
        self.cache: dict[Selection, list[VisBlock]] = {}
        self.booked: dict[Selection, int] = {}  # tier-1 selections and their predicted bytes

    def plan(self, selection: Selection, book: bool = False) -> TierPlan:
        """The tier of `selection` given the selections already booked for tier 1; `book`
        books it when it is tier 1 (as prefetch does, without reading)."""
        rows, slot_rows = selected_rows(self.meta, selection)
        cached = len(rows) * self.sample * self.cached_bytes
        held = sum(self.booked.values())
        tier1 = selection in self.booked or held + cached <= self.budget / 2
        # a worker's block: tier 1 only adds its working copies, tiers 2 and 3 read it too
        per_sample = self.working_bytes if tier1 else self.cached_bytes + self.working_bytes
        per_block = max(1, int(self.budget / 2 / self.workers / (self.sample * per_sample)))
        n_spw = len(selection.spw_ids) if selection.spw_ids else len(self.meta.spws)
        block = min(len(rows), per_block) / n_spw  # a read is yielded as one block per SPW
        working = self.workers * (WORKER_BYTES + block * self.sample * per_sample)
        if tier1:
            if book and selection not in self.booked:
                self.booked[selection] = cached
                held += cached
            return TierPlan(1, per_block, int(BASE_BYTES + held + working))
        return TierPlan(3 if slot_rows > per_block else 2, per_block,
                        int(BASE_BYTES + held + working))

    def prefetch(self, selection: Selection) -> None:
        """Read a tier-1 selection into the cache now (before workers fork and share it)."""
        plan = self.plan(selection, book=True)
        if plan.tier == 1 and selection not in self.cache:
            self.cache[selection] = list(iter_blocks(self.meta, selection, self.columns,
                                                     plan.rows_per_block))

    def cached(self, selection: Selection) -> list[VisBlock] | None:
        """The blocks of `selection` from the tier-1 cache (also the blocks of some of a cached
        selection's SPWs), or None when it is not cached."""
        for sel, blocks in self.cache.items():
            if sel == selection:
                return blocks
            if (selection.spw_ids is not None and sel.spw_ids is not None
                    and set(selection.spw_ids) <= set(sel.spw_ids)
                    and replace(selection, spw_ids=sel.spw_ids) == sel):
                return [b for b in blocks if b.spw_id in selection.spw_ids]
        return None

    def blocks(self, selection: Selection):
        """The selection's blocks; tier-1 blocks are shared, so callers treat every block as
        read-only (pre-apply and the parallactic rotation write new arrays)."""
        cached = self.cached(selection)
        if cached is not None:
            yield from cached
            return
        yield from iter_blocks(self.meta, selection, self.columns,
                               self.plan(selection).rows_per_block)

