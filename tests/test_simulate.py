"""The simulator writes what the measurement equation says, from the truth it saves."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from casacore import tables

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.simulate.truth import Truth
from alakazam.engine.sky import PointSource


@pytest.mark.parametrize("fixture", ["linear_ms", "circular_ms"])
def test_noiseless_data_is_jones_sandwich_of_true_sky(fixture, request):
    """DATA == J_p V_true J_q^H to complex64 precision, J rebuilt from the saved truth, for
    every field (including the target's off-centre source, through the MS's UVW)."""
    path, _ = request.getfixturevalue(fixture)
    truth, meta = Truth.load(path), read_meta(path)
    assert set(truth.terms) == {"K", "G", "B", "D", "Xf", "Kcross"}
    n = 0
    for block in iter_blocks(meta, select(meta), ("DATA",), max_rows=2000):
        want = truth.visibilities(block)
        scale = np.abs(want).max()
        assert np.abs(block.vis["DATA"] - want).max() < 1e-5 * scale
        n += block.n_row
    assert n == meta.n_rows


def test_noise_has_the_requested_sigma(noisy_ms):
    """DATA - J V J^H is zero-mean Gaussian noise of the saved sigma (phase cal flux / snr),
    and WEIGHT is 1/sigma^2."""
    path, truth = noisy_ms
    meta = read_meta(path)
    resid = []
    for block in iter_blocks(meta, select(meta), ("DATA",)):
        ok = ~block.flag
        resid.append((block.vis["DATA"] - truth.visibilities(block))[ok])
        assert np.allclose(block.weight[ok], 1 / truth.sigma**2, rtol=1e-6)
    resid = np.concatenate(resid)
    n = resid.size
    assert truth.sigma == pytest.approx(2.3 * (1.302e9 / 1.4e9) ** -0.7 / 10, rel=1e-3)
    for part in (resid.real, resid.imag):
        # std of a sample std is sigma/sqrt(2n); allow 5 of those, and 5 sigma/sqrt(n) on the mean
        assert abs(part.std() - truth.sigma) < 5 * truth.sigma / math.sqrt(2 * n)
        assert abs(part.mean()) < 5 * truth.sigma / math.sqrt(n)


@pytest.mark.parametrize("fixture", ["linear_ms", "circular_ms"])
def test_model_at_phase_centre_is_real_and_equals_flux(fixture, request):
    """MODEL_DATA of a point source at the phase centre is real; its parallel hands add up to
    2 I(nu) and the flux calibrator's polarisation appears where the basis puts it."""
    path, truth = request.getfixturevalue(fixture)
    meta = read_meta(path)
    for fid, fdef in enumerate(truth.fields[:2]):
        src = PointSource(**fdef["model"][0])
        for block in iter_blocks(meta, select(meta, field=fid), ("MODEL_DATA",)):
            model = block.vis["MODEL_DATA"].astype(complex)
            stokes = src.flux(truth.freqs[block.spw_id])  # (n_chan, 4)
            assert np.abs(model.imag).max() < 1e-6 * stokes[:, 0].max()
            assert np.allclose(model[..., 0] + model[..., 3], 2 * stokes[None, :, 0], rtol=1e-6)
            pol = stokes[:, 1] if truth.basis == "LINEAR" else stokes[:, 3]  # Q or V
            assert np.allclose(model[..., 0] - model[..., 3], 2 * pol[None], atol=1e-5)
            cross = stokes[:, 2] if truth.basis == "LINEAR" else stokes[:, 1]  # U or Q
            assert np.allclose(model[..., 1].real, cross[None], atol=1e-5)


def test_phase_calibrator_model_is_one_jansky_but_truth_differs(linear_ms):
    _, truth = linear_ms
    phase = truth.fields[1]
    assert phase["role"] == "phase"
    assert phase["model"][0]["stokes"][0] == 1.0
    assert phase["true"][0]["stokes"][0] == 2.3 and phase["true"][0]["spix"] == -0.7


def test_parallel_hands_flags_and_autocorrelations(noisy_ms):
    path, truth = noisy_ms
    meta = read_meta(path)
    assert [p.corr_names for p in meta.polarizations] == [("XX", "YY")]
    assert not meta.polarizations[0].full
    with tables.table(path, ack=False) as tab:
        a1, a2 = tab.getcol("ANTENNA1"), tab.getcol("ANTENNA2")
        flag, flag_row = tab.getcol("FLAG"), tab.getcol("FLAG_ROW")
    assert np.any(a1 == a2)  # autocorrelations written
    on_3 = (a1 == 3) | (a2 == 3)
    assert flag[on_3].all() and flag_row[on_3].all()
    assert not flag[~on_3].any() and not flag_row[~on_3].any()
    for block in iter_blocks(meta, select(meta), ("DATA",)):
        assert np.all(block.ant1 != block.ant2)  # autocorrelations are not read by default
        assert block.vis["DATA"].shape[-1] == 2


def test_existing_output_is_refused_and_interruption_leaves_nothing(tmp_path):
    out = str(tmp_path / "x.ms")
    simulate(out, SimOptions(n_ant=3, n_spw=1, n_chan=2, duration=60, integration=30))
    with pytest.raises(InputError, match="already exists"):
        simulate(out, SimOptions(n_ant=3))
    before = os.path.getmtime(os.path.join(out, "table.dat"))

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(out, SimOptions(n_ant=3, n_spw=1, n_chan=2, duration=60, integration=30),
                 overwrite=True, progress=interrupt)
    assert sorted(os.listdir(tmp_path)) == ["x.ms", "x.ms.truth.json", "x.ms.truth.npz"]
    assert os.path.getmtime(os.path.join(out, "table.dat")) == before


@pytest.mark.parametrize("option, value", [("n_ant", 1), ("feed", "ELLIPTIC"), ("snr", -1.0),
                                           ("flag_ant", (9,)), ("terms", ("K", "Q"))])
def test_impossible_options_name_themselves(option, value, tmp_path):
    with pytest.raises(InputError, match=option):
        simulate(str(tmp_path / "y.ms"), SimOptions(**{option: value}))
    assert os.listdir(tmp_path) == []


def test_rfi_spikes_hit_the_requested_fraction(tmp_path):
    """Unflagged RFI: DATA departs from J V J^H by 100 sigma on about rfi_fraction of the
    (row, channel) samples (binomial tolerance of 5 standard deviations), nowhere else."""
    out = str(tmp_path / "rfi.ms")
    truth = simulate(out, SimOptions(n_ant=5, n_spw=1, n_chan=32, duration=600, snr=math.inf,
                                     rfi_fraction=0.02))
    meta = read_meta(out)
    hit = []
    for block in iter_blocks(meta, select(meta), ("DATA",)):
        diff = np.abs(block.vis["DATA"] - truth.visibilities(block))
        assert not block.flag.any()
        hit.append((diff > 1.0).all(axis=-1).ravel())  # spikes of 10 Jy hit all correlations
        assert np.all((diff > 1.0).any(axis=-1) == (diff > 1.0).all(axis=-1))
    hit = np.concatenate(hit)
    p, n = 0.02, hit.size
    assert abs(hit.mean() - p) < 5 * math.sqrt(p * (1 - p) / n)
