"""Metadata read back from a simulated MS equals what the simulator put in."""

from __future__ import annotations

import numpy as np
import pytest

from alakazam.engine.geometry import geodetic
from alakazam.engine.msmeta import read_meta
from alakazam.engine.simulate.layouts import SITES, layout


@pytest.mark.parametrize("fixture", ["linear_ms", "circular_ms"])
def test_metadata_round_trip(fixture, request):
    path, truth = request.getfixturevalue(fixture)
    opts = truth.options
    meta = read_meta(path)
    names, positions, site = layout(opts["array"], opts["n_ant"], opts["seed"])
    assert meta.antennas.names == tuple(names)
    assert np.allclose(meta.antennas.positions, positions)
    assert np.all(meta.antennas.diameters == site.dish) and meta.antennas.has_data.all()
    assert meta.telescope == site.name
    assert meta.basis == opts["feed"]
    assert meta.polarizations[0].full
    assert [f.name for f in meta.fields] == [f["name"] for f in truth.fields]
    for f, fdef in zip(meta.fields, truth.fields):
        assert f.ra == pytest.approx(fdef["ra"], abs=1e-12)
        assert f.dec == pytest.approx(fdef["dec"], abs=1e-12)
        assert f.frame == "J2000"
    assert len(meta.spws) == opts["n_spw"]
    for spw in meta.spws:
        assert np.allclose(spw.freqs, truth.freqs[spw.id])
        assert np.allclose(spw.widths, opts["spw_bandwidth"] / opts["n_chan"])
        assert spw.ref_freq == spw.freqs[0]
    assert meta.integration_time == pytest.approx(opts["integration"])
    expected_receptor = [0, np.pi / 2] if opts["feed"] == "LINEAR" else [0, 0]
    assert np.allclose(meta.receptor_angles, expected_receptor)
    # scans: flux cal first, phase cal last, target between; intents from STATE
    n_scan = int(np.ceil(opts["duration"] / opts["scan_length"]))
    assert [s.number for s in meta.scans] == list(range(1, n_scan + 1))
    assert meta.scans[0].field_ids == (0,) and meta.scans[-1].field_ids == (1,)
    assert "CALIBRATE_FLUX#ON_SOURCE" in meta.scans[0].intents
    assert meta.scans[1].intents[0] == "CALIBRATE_PHASE#ON_SOURCE"
    assert meta.scans[2].intents == ("OBSERVE_TARGET#ON_SOURCE",)
    assert meta.scans[0].end - meta.scans[0].start == pytest.approx(opts["scan_length"])
    assert meta.time_range[1] - meta.time_range[0] == pytest.approx(
        opts["duration"] - opts["integration"])


def test_array_sits_at_its_site(linear_ms):
    path, truth = linear_ms
    lon, lat, height = geodetic(read_meta(path).antennas.positions)
    site = SITES[truth.options["array"]]
    assert np.degrees(lon).mean() == pytest.approx(site.lon, abs=0.02)
    assert np.degrees(lat).mean() == pytest.approx(site.lat, abs=0.02)
    assert height.mean() == pytest.approx(site.height, abs=5)


def test_parallactic_angle_follows_the_source(linear_ms):
    """Chi changes sign through transit of the target (observation centred on it) and
    matches casacore's own position angle of the zenith to within precession (0.5 deg)."""
    from casacore.measures import measures

    path, truth = linear_ms
    meta = read_meta(path)
    target = truth.time_field == 2
    chi = truth.chi[target, 0]
    assert chi[0] * chi[-1] < 0
    t = truth.times[target][0]
    dm = measures()
    dm.do_frame(dm.epoch("UTC", f"{t}s"))
    dm.do_frame(dm.position("ITRF", *(f"{v}m" for v in meta.antennas.positions[0])))
    src = dm.direction("J2000", f"{truth.fields[2]['ra']}rad", f"{truth.fields[2]['dec']}rad")
    pa = dm.posangle(src, dm.direction("AZEL", "0deg", "90deg")).get_value("rad")
    assert chi[0] == pytest.approx(pa, abs=np.radians(0.5))


def test_uvw_is_antenna1_minus_antenna2(linear_ms):
    """UVW of a row equals casacore's UVW of the baseline vector ANTENNA1 - ANTENNA2 (to the
    precession between the apparent frame we use and J2000: < 1% of the baseline length)."""
    from casacore import tables
    from casacore.measures import measures

    path, truth = linear_ms
    meta = read_meta(path)
    with tables.table(path, ack=False) as tab:
        row = tab.query("FIELD_ID==2 AND ANTENNA1==0 AND ANTENNA2==5", limit=1)
        t, uvw = row.getcell("TIME", 0), row.getcell("UVW", 0)
    pos = meta.antennas.positions
    dm = measures()
    dm.do_frame(dm.epoch("UTC", f"{t}s"))
    dm.do_frame(dm.position("ITRF", *(f"{v}m" for v in pos.mean(axis=0))))
    dm.do_frame(dm.direction("J2000", f"{truth.fields[2]['ra']}rad", f"{truth.fields[2]['dec']}rad"))
    ref = dm.to_uvw(dm.baseline("ITRF", *(f"{v}m" for v in pos[0] - pos[5])))["xyz"].get_value("m")
    assert np.linalg.norm(uvw - np.array(ref)) < 0.01 * np.linalg.norm(pos[0] - pos[5])
