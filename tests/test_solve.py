"""The solver recovers injected Jones terms from simulated Measurement Sets."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest
from casacore import tables
from solve_helpers import amp_phase_errors, referenced, truth_gains_at, write_config

from alakazam.engine.config import load_config
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import run_solve
from alakazam.engine.solvers.stefcal import NO_DATA
from alakazam.engine.store import read_solutions


def solve(tmp_path, name="cal", **solve_block):
    cfg = load_config(write_config(tmp_path / f"{name}.yaml", output=f"{name}.h5", **solve_block))
    run_solve(cfg.solve[0])
    return {(s.jones_type, s.field_name, s.spw_id): s for s in read_solutions(str(tmp_path / f"{name}.h5"))}


@pytest.fixture(scope="module")
def kg_ms(tmp_path_factory):
    """K and G only (no bandpass, so that delays are well defined), SNR 100, LINEAR."""
    path = str(tmp_path_factory.mktemp("kg") / "kg.ms")
    return path, simulate(path, SimOptions(terms=("K", "G"), snr=100.0, seed=3))


def phasecal_scale(truth, spw):
    """sqrt of the phase calibrator's true flux over its 1 Jy model, at the SPW centre."""
    return math.sqrt(2.3 * (truth.spw_centre(spw) / 1.4e9) ** -0.7)


def test_k_then_g_chain_on_two_fields(kg_ms, tmp_path):
    """K (inf) on 3C286, then G (inf) on 3C286, then G (60 s) on the phase calibrator with K
    and the first G pre-applied: delays within 0.05 ns; the product of the two G steps within
    1% and 0.5 deg of the true gains, and within 5 standard errors (from the reported SNR)."""
    path, truth = kg_ms
    sols = solve(tmp_path, ms=path, ref_ant=0, apply_parang=True, jones=["K", "G", "G"],
                 field=[["3C286"], ["3C286"], ["J1407+2827"]], time_interval=["inf", "inf", "60s"],
                 preapply_time_interp=["exact", "linear", "linear"])
    for spw in (0, 1):
        k = sols[("K", "3C286", spw)]
        true_delay = truth.delays - truth.delays[0]
        assert np.abs(k.native["delay"][0] - true_delay).max() < 0.05
        assert not k.flags.any() and k.attrs["preapply_chain"] == "[]"

        g = sols[("G", "J1407+2827", spw)]
        assert g.time.shape == (10,)  # 60 s cells within 5 scans of 120 s
        g_flux = sols[("G", "3C286", spw)].native["gain"][0, 0]  # (n_ant, 2), one cell
        true_g = referenced(truth_gains_at(truth, g.time)) * phasecal_scale(truth, spw)
        amp_err, ph_err = amp_phase_errors(g.native["gain"][:, 0] * g_flux[None], true_g)
        assert amp_err.max() < 0.01 and ph_err.max() < 0.5
        # within 5 standard errors of the two gains (fractional errors from the reported SNR)
        sigma = 1 / g.snr[:, 0] + 1 / sols[("G", "3C286", spw)].snr[0, 0][None]
        assert np.all(amp_err[:, 1:] < 5 * sigma[:, 1:])
        assert np.all(np.radians(ph_err[:, 1:]) < 5 * sigma[:, 1:])
        chain = json.loads(g.attrs["preapply_chain"])
        assert [(c["jones"], c["source"], c["step"]) for c in chain] == [("K", "internal", 0),
                                                                          ("G", "internal", 1)]
        assert np.all(g.ref_ant_used == 0)


def test_phase_only_gains_have_unit_amplitude(kg_ms, tmp_path):
    path, truth = kg_ms
    sols = solve(tmp_path, ms=path, ref_ant="ea01", jones=["K", "G"], field="J1407+2827",
                 time_interval=["inf", "120s"], phase_only=[False, True])
    g = sols[("G", "J1407+2827", 0)]
    assert np.allclose(np.abs(g.native["gain"]), 1.0, atol=1e-9)
    _, ph_err = amp_phase_errors(g.native["gain"][:, 0], referenced(truth_gains_at(truth, g.time)))
    assert ph_err.max() < 0.5


def test_bandpass_per_channel(tmp_path):
    """K, G (per scan) and B (per channel) on the flux calibrator: B K G recovers the true
    diagonal Jones of every channel to 1% and 0.5 deg (referenced to antenna 0)."""
    path = str(tmp_path / "bp.ms")
    truth = simulate(path, SimOptions(terms=("K", "G", "B"), snr=200.0, n_chan=32, seed=5))
    sols = solve(tmp_path, ms=path, ref_ant=0, apply_parang=True, jones=["K", "G", "B"],
                 field="3C286", time_interval=["inf", "inf", "inf"])
    for spw in (0, 1):
        b, k, g = (sols[(j, "3C286", spw)] for j in ("B", "K", "G"))
        assert b.jones.shape[1] == 32 and np.allclose(b.freq, truth.freqs[spw])
        solved = b.native["gain"][0] * g.native["gain"][0, 0][None] \
            * np.exp(2j * np.pi * k.native["delay"][0][None] * 1e-9
                     * (truth.freqs[spw] - truth.spw_centre(spw))[:, None, None])
        scan = truth.time_field == 0
        true = truth.diagonal(spw, np.flatnonzero(scan)).mean(axis=0)  # (n_chan, n_ant, 2)
        amp_err, ph_err = amp_phase_errors(referenced(solved), referenced(true))
        assert amp_err.max() < 0.01 and ph_err.max() < 0.5


def test_external_preapply_before_step_one(kg_ms, tmp_path):
    path, truth = kg_ms
    solve(tmp_path, name="k", ms=path, ref_ant=0, jones="K", field="3C286")
    sols = solve(tmp_path, name="g", ms=path, ref_ant=0, jones="G", field="J1407+2827",
                 time_interval="60s", external_preapply={
                     "tables": ["k.h5"], "jones": ["K"], "field_select": ["nearest_sky"],
                     "time_interp": ["exact"]})
    g = sols[("G", "J1407+2827", 1)]
    chain = json.loads(g.attrs["preapply_chain"])
    assert chain[0]["source"] == "external" and chain[0]["table"].endswith("k.h5")
    true_g = referenced(truth_gains_at(truth, g.time)) * phasecal_scale(truth, 1)
    amp_err, ph_err = amp_phase_errors(g.native["gain"][:, 0], true_g)
    assert amp_err.max() < 0.01 and ph_err.max() < 0.5


def test_flagged_antenna_and_rfi(tmp_path):
    """Antenna 2 flagged: its solutions are flagged (no data), the others stay within
    tolerance even with 1% of samples hit by unflagged RFI spikes."""
    path = str(tmp_path / "fl.ms")
    truth = simulate(path, SimOptions(terms=("K", "G"), snr=100.0, flag_ant=(2,),
                                      rfi_fraction=0.01, seed=7))
    sols = solve(tmp_path, ms=path, ref_ant=0, apply_parang=True, jones=["K", "G"],
                 field=[["3C286"], ["J1407+2827"]], time_interval=["inf", "60s"])
    for spw in (0, 1):
        k, g = sols[("K", "3C286", spw)], sols[("G", "J1407+2827", spw)]
        for sol in (k, g):
            assert sol.flags[..., 2].all() and np.all(sol.reason[..., 2] == NO_DATA)
            others = np.delete(np.arange(7), 2)
            assert not sol.flags[..., others].any()
        keep = np.delete(np.arange(7), 2)
        true_delay = truth.delays - truth.delays[0]
        assert np.abs(k.native["delay"][0][keep] - true_delay[keep]).max() < 0.05
        true_g = referenced(truth_gains_at(truth, g.time)) * phasecal_scale(truth, spw)
        amp_err, ph_err = amp_phase_errors(g.native["gain"][:, 0][:, keep], true_g[:, keep])
        assert amp_err.max() < 0.01 and ph_err.max() < 0.5


def test_reference_antenna_fallback(kg_ms, tmp_path):
    """The reference antenna's data flagged in one scan: those cells use the next antenna of
    the list, record it, and phases stay referenced to it."""
    src, truth = kg_ms
    path = str(tmp_path / "ref.ms")
    shutil.copytree(src, path)
    with tables.table(path, readonly=False, ack=False) as tab:
        scan, a1, a2 = (tab.getcol(c) for c in ("SCAN_NUMBER", "ANTENNA1", "ANTENNA2"))
        tab.putcol("FLAG_ROW", tab.getcol("FLAG_ROW") | ((scan == 4) & ((a1 == 0) | (a2 == 0))))
    sols = solve(tmp_path, ms=path, ref_ant=[0, 3], jones=["K", "G"],
                 field=[["3C286"], ["J1407+2827"]], time_interval=["inf", "60s"])
    g = sols[("G", "J1407+2827", 0)]
    in_scan4 = (g.time > truth.times[truth.time_field == 1][12] - 1) & \
        (g.time < truth.times[truth.time_field == 1][23] + 1)
    assert in_scan4.sum() == 2
    assert np.all(g.ref_ant_used[in_scan4] == 3) and np.all(g.ref_ant_used[~in_scan4] == 0)
    assert g.flags[in_scan4][..., 0].all() and not g.flags[~in_scan4].any()
    gains = g.native["gain"][:, 0]
    assert np.allclose(np.angle(gains[in_scan4, 3]), 0, atol=1e-9)
    true_g = referenced(truth_gains_at(truth, g.time), ref=3) * phasecal_scale(truth, 0)
    _, ph_err = amp_phase_errors(gains[in_scan4][:, 1:], true_g[in_scan4][:, 1:])
    assert ph_err.max() < 0.5


def test_interrupted_run_leaves_no_output(kg_ms, tmp_path):
    path, _ = kg_ms
    cfg = load_config(write_config(tmp_path / "c.yaml", ms=path, output="out.h5", jones="G",
                                   field="3C286"))

    def interrupt(*_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_solve(cfg.solve[0], progress=interrupt)
    assert sorted(os.listdir(tmp_path)) == ["c.yaml"]


def test_circular_feeds_meerkat_layout(tmp_path):
    """CIRCULAR feeds, MeerKAT-like array, parallactic rotation not modelled (RR and LL do not
    see it): K within 0.05 ns and G within 1% and 0.5 deg on the flux calibrator."""
    path = str(tmp_path / "circ.ms")
    truth = simulate(path, SimOptions(array="meerkat", feed="CIRCULAR", terms=("K", "G"),
                                      snr=100.0, n_ant=8, seed=11))
    sols = solve(tmp_path, ms=path, jones=["K", "G"], field="J1939-6342", ref_ant="m003",
                 time_interval=["inf", "60s"])
    for spw in (0, 1):
        k, g = sols[("K", "J1939-6342", spw)], sols[("G", "J1939-6342", spw)]
        true_delay = truth.delays - truth.delays[3]
        assert np.abs(k.native["delay"][0] - true_delay).max() < 0.05
        amp_err, ph_err = amp_phase_errors(g.native["gain"][:, 0],
                                           referenced(truth_gains_at(truth, g.time), ref=3))
        assert amp_err.max() < 0.01 and ph_err.max() < 0.5
