"""`alakazam setjy`: write a computed model into MODEL_DATA, for CASA's workflow.

Every model is checked against every selected field and SPW before anything is written. A
MODEL_DATA column that does not exist is created, and every row set to a 1 Jy unpolarised point
source at the phase centre (as CASA initialises it); then the selected rows get their model,
in blocks of bounded size (tiers.apply_plan). The model is in the sky frame (no parallactic
rotation), as CASA writes it. DATA is never written.
"""

from __future__ import annotations

from contextlib import closing

import numpy as np

from alakazam.engine.config import ModelSpec
from alakazam.engine.msmeta import open_table, read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.mswrite import add_column, write_rows
from alakazam.engine.parallel import Writer, prefetched
from alakazam.engine.selection import Selection, resolve_fields, resolve_spws
from alakazam.engine.skymodel import field_model
from alakazam.engine.tiers import apply_plan

COLUMN = "MODEL_DATA"
_UNIT = ModelSpec(stokes=(1.0, 0.0, 0.0, 0.0))


def run_setjy(ms: str, fields, spec: ModelSpec, spw=None, memory_limit_gb: float = 0.0,
              progress=None) -> dict[str, str]:
    """Write the model `spec` of `fields` (names or ids) over SPWs `spw` (spec, None = all)
    into MODEL_DATA; returns {field name: model label}. progress(done_rows, total_rows)."""
    meta = read_meta(ms)
    field_ids = resolve_fields(meta, list(fields))
    spws = resolve_spws(meta, spw) if spw is not None else tuple(range(len(meta.spws)))
    models = {(f, s): field_model(spec, meta, meta.fields[f], s) for f in field_ids for s in spws}
    rows, _ = apply_plan(meta, memory_limit_gb)
    if add_column(ms, COLUMN, "model visibilities written by alakazam setjy"):
        unit = {(f.id, s.id): field_model(_UNIT, meta, f, s.id)
                for f in meta.fields for s in meta.spws}
        _fill(meta, Selection(autocorrelations=True), unit, rows)
    selection = Selection(field_ids, None, spws, autocorrelations=True)
    _fill(meta, selection, models, rows, progress)
    return {meta.fields[f].name: models[f, spws[0]].label for f in field_ids}


def _fill(meta, selection: Selection, models: dict, rows: int, progress=None) -> None:
    """MODEL_DATA of the selected rows from models {(field id, SPW id): FieldModel}."""
    total = sum(meta.fields[f].n_rows for f in selection.field_ids) \
        if selection.field_ids is not None else meta.n_rows
    done = 0

    def write(vb, values):
        nonlocal done
        write_rows(tab, meta, vb.rows, vb.ddid, {COLUMN: values})
        done += vb.n_row
        if progress is not None:
            progress(done, total)

    tab = open_table(meta.path, readonly=False)
    try:
        with closing(prefetched(iter_blocks(meta, selection, (), rows, weights=False))) as blocks, \
                Writer() as writer:
            for vb in blocks:
                freqs = meta.spws[vb.spw_id].freqs
                values = np.empty(vb.flag.shape, np.complex64)
                for fid in np.unique(vb.field):
                    mask = vb.field == fid
                    values[mask] = models[fid, vb.spw_id].visibilities(vb.uvw[mask], freqs,
                                                                       vb.slots)
                writer.submit(write, vb, values)
    finally:
        tab.close()
