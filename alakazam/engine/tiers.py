"""The memory tiers of a solve (the design's three): how the rows of a selection are read.

  tier 1  the selection fits in the cache share of the budget: read once and kept in RAM for
          every step that uses it (blocks are shared and never modified);
  tier 2  batches of whole time slots, as many rows as the budget allows, read at each use;
  tier 3  one time slot alone exceeds that: slots are split into batches of rows (the cell
          statistics accumulate progressively, so the result is the same).

The budget is memory_limit_gb, or half the available RAM (psutil). Half of it may hold tier-1
caches; the other half is for the block being processed and its working copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from alakazam.engine.msmeta import MSMeta
from alakazam.engine.msread import VisBlock, iter_blocks, selected_rows
from alakazam.engine.selection import Selection

CACHED_BYTES = 22  # per sample kept: data and model complex64, weight float32, flag, margin
WORKING_BYTES = 96  # per sample being processed: copies, 2x2 expansions, RFI flags
BASE_BYTES = 300 * 2**20  # the interpreter, numpy, numba and casacore themselves


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


class BlockSource:
    """Blocks of the selections of one solve block, read according to their tier. `columns`:
    the data columns (data_col, model_col)."""

    def __init__(self, meta: MSMeta, columns: tuple[str, ...], memory_limit_gb: float):
        self.meta = meta
        self.columns = columns
        self.budget = budget_bytes(memory_limit_gb)
        self.sample = max(s.n_chan for s in meta.spws) * max(len(p.slots)
                                                              for p in meta.polarizations)
        self.cache: dict[Selection, list[VisBlock]] = {}
        self.booked: dict[Selection, int] = {}  # tier-1 selections and their predicted bytes

    def plan(self, selection: Selection, book: bool = False) -> TierPlan:
        """The tier of `selection` given the selections already booked for tier 1; `book`
        books it when it is tier 1 (as prefetch does, without reading)."""
        rows, slot_rows = selected_rows(self.meta, selection)
        per_block = max(1, int(self.budget / 2 / (self.sample * WORKING_BYTES)))
        working = min(len(rows), per_block) * self.sample * WORKING_BYTES
        cached = len(rows) * self.sample * CACHED_BYTES
        held = sum(self.booked.values())
        if selection in self.booked or held + cached <= self.budget / 2:
            if book and selection not in self.booked:
                self.booked[selection] = cached
                held += cached
            return TierPlan(1, per_block, BASE_BYTES + held + working)
        return TierPlan(3 if slot_rows > per_block else 2, per_block,
                        BASE_BYTES + held + working)

    def prefetch(self, selection: Selection) -> None:
        """Read a tier-1 selection into the cache now (before workers fork and share it)."""
        plan = self.plan(selection, book=True)
        if plan.tier == 1 and selection not in self.cache:
            self.cache[selection] = list(iter_blocks(self.meta, selection, self.columns,
                                                     plan.rows_per_block))

    def blocks(self, selection: Selection):
        """The selection's blocks; tier-1 blocks are shared, so callers treat every block as
        read-only (pre-apply and the parallactic rotation write new arrays)."""
        if selection in self.cache:
            yield from self.cache[selection]
            return
        yield from iter_blocks(self.meta, selection, self.columns,
                               self.plan(selection).rows_per_block)

