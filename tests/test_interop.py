"""An MS written by another tool (pyuvdata): metadata and visibilities read back as written.

pyuvdata writes CIRCULAR parallel hands here, channels in descending order, an ICRS field
direction, an antenna without data, no MODEL_DATA and no STATE rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select

pyuvdata = pytest.importorskip("pyuvdata")


@pytest.fixture(scope="module")
def uvdata_ms(tmp_path_factory):
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    location = EarthLocation.from_geodetic(-107.6184 * u.deg, 34.0790 * u.deg, 2124 * u.m)
    enu = {i: np.array([100.0 * i, 37.0 * i * i, 0.0]) for i in range(5)}
    telescope = pyuvdata.Telescope.new(
        name="TESTARRAY", instrument="TESTARRAY", location=location, antenna_positions=enu,
        antenna_names=[f"A{i}" for i in range(5)], feeds=["r", "l"], mount_type="alt-az",
        antenna_diameters=np.full(5, 25.0), update_from_known=False)
    freqs = np.linspace(1.5e9, 1.4e9, 8)
    times = 2460000.5 + np.arange(6) * 10 / 86400  # JD
    uvd = pyuvdata.UVData.new(
        freq_array=freqs, polarization_array=["rr", "ll"], times=times, telescope=telescope,
        antpairs=[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)], integration_time=10.0,
        channel_width=-12.5e6, do_blt_outer=True, empty=True)
    rng = np.random.default_rng(0)
    uvd.data_array = rng.normal(size=uvd.data_array.shape) + 1j * rng.normal(size=uvd.data_array.shape)
    uvd.flag_array[::4, 2, 1] = True
    uvd.phase(ra=np.radians(200.0), dec=np.radians(30.0), cat_name="1331+30500002_0", epoch="J2000")
    path = str(tmp_path_factory.mktemp("uvd") / "uvd.ms")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        uvd.write_ms(path)
    return path, uvd


def test_metadata_of_a_pyuvdata_ms(uvdata_ms):
    path, uvd = uvdata_ms
    meta = read_meta(path)
    assert meta.basis == "CIRCULAR"
    assert meta.polarizations[0].corr_names == ("RR", "LL")
    assert meta.antennas.names == ("A0", "A1", "A2", "A3", "A4")
    assert list(meta.antennas.has_data) == [True, True, True, True, False]
    assert np.allclose(meta.antennas.positions, uvd.telescope.antenna_positions
                       + uvd.telescope._location.xyz(), atol=1e-3)
    (spw,) = meta.spws
    assert np.allclose(spw.freqs, uvd.freq_array) and spw.freqs[0] > spw.freqs[-1]
    (field,) = meta.fields
    assert field.name == "1331+30500002_0"
    assert field.ra == pytest.approx(np.radians(200.0), abs=1e-6)  # ICRS vs J2000: < 0.1"
    assert field.dec == pytest.approx(np.radians(30.0), abs=1e-6)
    assert meta.integration_time == pytest.approx(10.0, abs=1e-3)
    assert all(s.intents == () for s in meta.scans)
    assert "MODEL_DATA" not in meta.columns


def test_visibilities_of_a_pyuvdata_ms(uvdata_ms):
    path, uvd = uvdata_ms
    meta = read_meta(path)
    (block,) = iter_blocks(meta, select(meta), ("DATA",))
    assert block.slots == (0, 3)
    jd = block.time / 86400.0 + 2400000.5
    for r in range(block.n_row):
        blt = np.flatnonzero((np.abs(uvd.time_array - jd[r]) < 1e-7)
                             & (uvd.ant_1_array == block.ant1[r])
                             & (uvd.ant_2_array == block.ant2[r]))
        assert len(blt) == 1
        # pyuvdata writes each baseline as the conjugate of its own (ant2 - ant1) convention:
        # UVW = ANTENNA1 - ANTENNA2 and conjugated data, the convention this engine follows
        assert np.allclose(block.uvw[r], -uvd.uvw_array[blt[0]], atol=1e-6)
        assert np.allclose(block.vis["DATA"][r], np.conj(uvd.data_array[blt[0]]), atol=1e-6)
        assert np.array_equal(block.flag[r], uvd.flag_array[blt[0]])


def test_a_suffixed_calibrator_name_gets_its_standard_model(uvdata_ms):
    """pyuvdata's MS names its field 1331+30500002_0 (the VLA archive's style, far from 3C286's
    position): recognised as 3C286 by name; with parallel hands of CIRCULAR feeds its model
    is Stokes I on RR and LL at every channel (descending here)."""
    from alakazam.engine import fluxstandards
    from alakazam.engine.config import model_spec
    from alakazam.engine.skymodel import field_model

    path, _ = uvdata_ms
    meta = read_meta(path)
    model = field_model(model_spec({"standard": "perley-butler-2017"}, "t"), meta,
                        meta.fields[0], 0)
    assert model.label == "3C286 (perley-butler-2017)"
    (block,) = iter_blocks(meta, select(meta), ())
    vis = model.visibilities(block.uvw, meta.spws[0].freqs, block.slots)
    year = fluxstandards.decimal_year(float(np.mean(meta.time_range)))
    flux = fluxstandards.stokes("perley-butler-2017", "3C286", meta.spws[0].freqs, year)[:, 0]
    assert np.allclose(vis, flux[None, :, None], rtol=1e-6)
    assert flux[0] < flux[-1]  # channels descend, the spectrum falls
