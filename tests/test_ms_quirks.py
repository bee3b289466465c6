"""The reader copes with what real Measurement Sets look like (../shared/docs/NOTES.md):
descending channels, B1950 directions, no MODEL_DATA / WEIGHT_SPECTRUM, no STATE rows,
antennas without data or names, CORR_TYPE in an unusual order, INTERVAL that disagrees with
the TIME spacing, flags that differ between correlations."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from casacore import tables
from casacore.measures import measures

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select

STORED_ORDER = [9, 12, 10, 11]  # XX YY XY YX, as some correlators write it
CANONICAL_TO_STORED = [0, 3, 1, 2]  # stored index k holds canonical slot CANONICAL_TO_STORED[k]


@pytest.fixture(scope="module")
def quirky_ms(linear_ms, tmp_path_factory):
    src, truth = linear_ms
    path = str(tmp_path_factory.mktemp("quirky") / "quirky.ms")
    shutil.copytree(src, path)
    with tables.table(path, readonly=False, ack=False) as tab:
        interval = tab.getcol("INTERVAL")
        tab.putcol("INTERVAL", 2 * interval)
        tab.putcol("STATE_ID", np.full(tab.nrows(), -1, np.int32))
        for col in ("DATA", "FLAG"):
            values = tab.getcol(col)[:, ::-1, :][..., CANONICAL_TO_STORED]
            if col == "FLAG":
                values[::7, :, 2] = True  # XY flagged on some rows only
            tab.putcol(col, np.ascontiguousarray(values))
        tab.removecols(["MODEL_DATA", "WEIGHT_SPECTRUM"])
    with tables.table(f"{path}/SPECTRAL_WINDOW", readonly=False, ack=False) as spw:
        spw.putcol("CHAN_FREQ", spw.getcol("CHAN_FREQ")[:, ::-1].copy())
        spw.putcol("CHAN_WIDTH", -spw.getcol("CHAN_WIDTH"))
    with tables.table(f"{path}/POLARIZATION", readonly=False, ack=False) as pol:
        pol.putcell("CORR_TYPE", 0, np.array(STORED_ORDER, np.int32))
    with tables.table(f"{path}/STATE", readonly=False, ack=False) as state:
        state.removerows(list(range(state.nrows())))
    with tables.table(f"{path}/ANTENNA", readonly=False, ack=False) as ant:
        ant.addrows(1)
        ant.putcell("NAME", ant.nrows() - 1, "")
        ant.putcell("POSITION", ant.nrows() - 1, ant.getcell("POSITION", 0) + 5000.0)
    dm = measures()
    with tables.table(f"{path}/FIELD", readonly=False, ack=False) as field:
        info = field.getcolkeyword("PHASE_DIR", "MEASINFO")
        dirs = field.getcol("PHASE_DIR")
        for i in range(len(dirs)):
            b1950 = dm.measure(dm.direction("J2000", f"{dirs[i, 0, 0]}rad",
                                            f"{dirs[i, 0, 1]}rad"), "B1950")
            dirs[i, 0] = b1950["m0"]["value"], b1950["m1"]["value"]
        field.putcol("PHASE_DIR", dirs)
        field.putcolkeyword("PHASE_DIR", "MEASINFO", {**info, "Ref": "B1950"})
    return path, src, truth


def test_metadata_of_a_quirky_ms(quirky_ms):
    path, src, truth = quirky_ms
    meta, orig = read_meta(path), read_meta(src)
    assert all(np.all(np.diff(s.freqs) < 0) for s in meta.spws)
    assert meta.basis == "LINEAR" and meta.polarizations[0].corr_names == ("XX", "YY", "XY", "YX")
    assert meta.polarizations[0].full
    for f, o in zip(meta.fields, orig.fields):
        assert f.frame == "B1950"
        # B1950 -> J2000 through casacore measures: back to the original to well below 1 mas
        assert f.ra == pytest.approx(o.ra, abs=5e-9) and f.dec == pytest.approx(o.dec, abs=5e-9)
    assert all(s.intents == () for s in meta.scans)
    assert meta.antennas.names[-1] == f"ANT{len(meta.antennas) - 1}"
    assert not meta.antennas.has_data[-1] and meta.antennas.has_data[:-1].all()
    assert meta.integration_time == pytest.approx(truth.options["integration"])
    assert "MODEL_DATA" not in meta.columns


def test_visibilities_come_out_in_canonical_order(quirky_ms):
    path, src, _ = quirky_ms
    meta, orig = read_meta(path), read_meta(src)
    sel = select(meta, field="3C286")
    got = list(iter_blocks(meta, sel, ("DATA",)))
    want = list(iter_blocks(orig, select(orig, field="3C286"), ("DATA",)))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.slots == (0, 1, 2, 3)
        assert np.array_equal(g.rows, w.rows)
        assert np.array_equal(g.vis["DATA"], w.vis["DATA"][:, ::-1, :])  # channels in MS order
        # weights from WEIGHT when WEIGHT_SPECTRUM is absent
        assert np.allclose(g.weight, w.weight)
        # the XY flag set on every 7th row sits in canonical slot 1
        xy_flagged = (g.rows % 7) == 0
        assert g.flag[xy_flagged][..., 1].all()
        assert not g.flag[~xy_flagged].any() and not g.flag[..., [0, 2, 3]].any()


def test_missing_model_column_is_named(quirky_ms):
    path = quirky_ms[0]
    meta = read_meta(path)
    with pytest.raises(InputError, match=r"column MODEL_DATA missing .*data columns present: DATA"):
        next(iter_blocks(meta, select(meta), ("DATA", "MODEL_DATA")))
