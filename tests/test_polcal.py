"""Polarisation calibration on simulated MSs with injected leakage, cross-hand phase and
delay, for LINEAR and CIRCULAR feeds: D from a polarised calibrator (3C286-like, 9.4% linear
polarisation at EVPA 33 deg, observed over ~110 deg of parallactic angle) and from an
unpolarised one, Xf and Kcross, then the calibrated polarisation of the calibrator.

Tolerances are 5 standard errors (the solver's own, from the noise and the reduced
chi-squared) plus the bias of a chain that solves G before D: G absorbs the leakage's imprint
on the parallel hands of the polarised calibrator, of order |d| m_L ~ 0.04 x 0.094, which
noiseless runs (seeds 7 and 8, both bases) measure at up to 0.002 in d, 0.003 rad in phi_pq
and 0.005 ns in delay_pq.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest
import yaml

from alakazam import plots
from alakazam.engine.accumulate import PolStats
from alakazam.engine.apply import plan_apply, run_apply
from alakazam.engine.config import load_config
from alakazam.engine.errors import InputError
from alakazam.engine.jones import brightness
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks, to_matrix
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import plan, run_solve
from alakazam.engine.solvers.leakage import least_leakage
from alakazam.engine.solvers.stefcal import NO_DATA
from alakazam.engine.store import read_solutions
from alakazam.tui.session import Problem, Session
from solve_helpers import write_config

CHAIN = ["K", "G", "Kcross", "D", "Xf"]
POLCAL, UNPOL = "3C286", "J1407+2827"
BIAS_D, BIAS_PHI, BIAS_DELAY = 0.003, 0.004, 0.006  # rad, ns: see the module docstring


@pytest.fixture(scope="module", params=["LINEAR", "CIRCULAR"])
def polcal(request, tmp_path_factory):
    """A 2 h polcal-schedule MS (no bandpass, so the cross-hand spectrum is a pure phase and
    delay), solved with K, G, Kcross, D, Xf on 3C286 and K, G, D on the unpolarised
    calibrator with Kcross and Xf pre-applied, and 3C286 corrected with the chain and P."""
    feed = request.param
    folder = tmp_path_factory.mktemp(f"polcal-{feed}")
    ms = str(folder / "pol.ms")
    truth = simulate(ms, SimOptions(feed=feed, schedule="polcal", duration=7200, integration=60,
                                    scan_length=600, snr=20.0, seed=7,
                                    terms=("K", "G", "D", "Xf", "Kcross")))
    pol_h5, unpol_h5 = str(folder / "pol.h5"), str(folder / "unpol.h5")
    config = {
        "solve": [
            {"ms": ms, "output": pol_h5, "apply_parang": True, "ref_ant": 0, "jones": CHAIN,
             "field": [POLCAL, [POLCAL, UNPOL], POLCAL, POLCAL, POLCAL],
             "time_interval": ["inf", "int", "inf", "inf", "inf"],
             "freq_interval": ["full", "full", "full", "1", "full"]},
            {"ms": ms, "output": unpol_h5, "apply_parang": True, "ref_ant": 0,
             "jones": ["K", "G", "D"], "field": UNPOL, "time_interval": ["inf", "int", "inf"],
             "freq_interval": ["full", "full", "1"],
             "external_preapply": {"tables": [pol_h5, pol_h5], "jones": ["Kcross", "Xf"],
                                   "field_select": "pinned", "solution_field": POLCAL}}],
        "apply": [{"ms": ms, "target_field": [POLCAL], "output_col": "CORRECTED_DATA",
                   "apply_parang": True, "tables": [pol_h5] * len(CHAIN), "jones": CHAIN,
                   "field_select": "pinned", "solution_field": POLCAL}]}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = load_config(str(path))
    for block in cfg.solve:
        run_solve(block)
    run_apply(cfg.apply[0])
    return feed, ms, truth, pol_h5, unpol_h5


def _one(path, jones, field):
    sols = [s for s in read_solutions(path, jones) if s.field_name == field]
    assert sols and all(not s.flags.any() for s in sols)
    return sols


def _cross_spectrum(truth, spw):
    """The cross-hand phase the data keep after K and G referenced on antenna 0: (phase at the
    SPW centre (rad), delay (ns))."""
    diag = truth.diagonal(spw, [0])[0, :, 0]  # (n_chan, 2) of the reference antenna
    delay = truth.kcross_delay + truth.delays[0, 1] - truth.delays[0, 0]
    freqs, nu0 = truth.freqs[spw], truth.spw_centre(spw)
    flat = diag[:, 1] / diag[:, 0] * np.exp(-2j * np.pi * delay * 1e-9 * (freqs - nu0))
    return float(np.angle(flat.mean())), delay


def test_polarised_leakage(polcal):
    feed, _, truth, pol_h5, _ = polcal
    for sol in _one(pol_h5, "D", POLCAL):
        d = np.stack([sol.native["d_pq"], sol.native["d_qp"]], axis=-1)[0]  # (n_chan, n_ant, 2)
        true = truth.leakage[sol.spw_id]
        if feed == "CIRCULAR":
            # V = 0: a common offset is free and the solver picks the least total leakage
            true = least_leakage(true, np.ones(true.shape[:2], bool))
        sigma = 1.0 / sol.snr[0]  # per real and imaginary part
        assert np.all(np.abs((d - true).real) < 5 * sigma + BIAS_D)
        assert np.all(np.abs((d - true).imag) < 5 * sigma + BIAS_D)
        assert np.abs(true).max() > 0.02 and np.median(sigma) < 0.002
        # the injected slope over the band is recovered, channel by channel
        slope, true_slope = d[-1] - d[0], true[-1] - true[0]
        assert np.abs(slope - true_slope).max() < 10 * np.median(sigma) + BIAS_D


def test_leakage_and_cross_delay_plots(polcal):
    """`alakazam plot` and the app draw D as |d_pq|, |d_qp| against frequency and Kcross's
    delay on receptor 2."""
    _, _, _, pol_h5, _ = polcal
    d = _one(pol_h5, "D", POLCAL)[0]
    curves = plots.series(d, "leakage", "freq", [2], (0, 1), receptor_names=("X", "Y"))
    assert [c.label for c in curves] == ["2 XY", "2 YX"]
    assert np.allclose(curves[0].y, np.abs(d.native["d_pq"][0, :, 2]))
    assert np.allclose(curves[1].y, np.abs(d.native["d_qp"][0, :, 2]))
    kc = _one(pol_h5, "Kcross", POLCAL)[0]
    curves = plots.series(kc, "delay", "time", [0], (0, 1))
    assert np.allclose(curves[1].y, kc.native["delay_pq"]) and np.all(curves[0].y == 0)
    with pytest.raises(InputError, match="no leakages"):
        plots.series(kc, "leakage", "time", [0])


def test_app_inspects_leakage(polcal, tmp_path):
    """The app's inspector (driven by Pilot) opens the polarisation tables and plots D's
    leakages, then cycles the quantity."""
    from textual.widgets import Input

    from alakazam.tui.app import AlakazamApp

    _, ms, _, pol_h5, _ = polcal
    config = tmp_path / "app.yaml"
    config.write_text(yaml.safe_dump({"solve": [{"ms": ms, "output": pol_h5, "jones": CHAIN,
                                                 "field": POLCAL}]}))

    async def drive():
        app = AlakazamApp(Session.load(str(config)), str(config))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("7")
            app.query_one("#table-path", Input).value = pol_h5
            app.query_one("#table-path", Input).focus()
            await pilot.press("enter")
            await pilot.pause()
            inspector = app.query_one("#inspector")
            shown = (inspector.current.jones_type, [c.label for c in inspector.curves[:2]])
            await pilot.press("m")
            await pilot.pause()
            return shown, inspector.quantity, len(inspector.curves)

    shown, quantity, n_curves = asyncio.run(drive())
    assert shown == ("D", ["ea01 XY", "ea01 YX"]) or shown == ("D", ["ea01 RL", "ea01 LR"])
    assert quantity == "amp" and n_curves == 14


def test_unpolarised_leakage(polcal):
    _, _, truth, _, unpol_h5 = polcal
    for sol in _one(unpol_h5, "D", UNPOL):
        d = np.stack([sol.native["d_pq"], sol.native["d_qp"]], axis=-1)[0]
        true = least_leakage(truth.leakage[sol.spw_id], np.ones(d.shape[:2], bool))
        sigma = 1.0 / sol.snr[0]
        assert np.all(np.abs(d - true) < 5 * np.sqrt(2) * sigma + BIAS_D)
        # the physical combinations d_pq,p + conj(d_qp,q) need no convention
        both = d[..., :, None, 0] + np.conj(d[..., None, :, 1])
        true_both = truth.leakage[sol.spw_id][..., :, None, 0] + np.conj(
            truth.leakage[sol.spw_id][..., None, :, 1])
        assert np.abs(both - true_both).max() < 10 * np.sqrt(2) * sigma.max() + 2 * BIAS_D


def test_cross_hand_phase_and_delay(polcal):
    _, _, truth, pol_h5, _ = polcal
    for xf, kc in zip(_one(pol_h5, "Xf", POLCAL), _one(pol_h5, "Kcross", POLCAL)):
        phase, delay = _cross_spectrum(truth, xf.spw_id)
        phi = xf.native["phi_pq"][0, 0]
        assert abs(np.angle(np.exp(1j * (phi - phase)))) < 5 / xf.snr[0, 0, 0, 0] + BIAS_PHI
        assert np.allclose(xf.jones[..., 1, 1], np.exp(1j * phi))
        dnu = truth.freqs[kc.spw_id] - truth.spw_centre(kc.spw_id)
        sigma_ns = 1e9 / (2 * np.pi * kc.snr[0, 0, 0, 0] * np.sqrt(np.mean(dnu**2)))
        assert abs(kc.native["delay_pq"][0] - delay) < 5 * sigma_ns + BIAS_DELAY
        assert kc.ref_ant_used.max() == -1 and xf.ref_ant_used.max() == -1


def test_calibrated_polarisation(polcal):
    """After K, G, Kcross, D, Xf and P, the calibrator's Stokes Q and U (and V = 0) match the
    model within 0.5% of I in each SPW."""
    feed, ms, truth, _, _ = polcal
    meta = read_meta(ms)
    for spw in range(len(meta.spws)):
        got = want = 0
        for block in iter_blocks(meta, select(meta, field=POLCAL, spw=str(spw)),
                                 ("CORRECTED_DATA",)):
            ok = ~block.flag.any(axis=-1)
            got = got + to_matrix(block.vis["CORRECTED_DATA"], block.slots)[ok].sum(axis=0)
            model = truth.visibilities(block, "true", corrupt=False)
            want = want + to_matrix(model, block.slots)[ok].sum(axis=0)
        got, want = _stokes(got, feed), _stokes(want, feed)
        assert np.all(np.abs(got[1:] - want[1:]) < 0.005 * want[0])
        assert abs(got[0] / want[0] - 1) < 0.005
        assert np.hypot(want[1], want[2]) > 0.09 * want[0]


def _stokes(coherency, basis):
    """I, Q, U, V of a summed 2x2 coherency (the inverse of jones.brightness, any scale)."""
    basis_of = {b: brightness(np.eye(4), b).reshape(4, 4) for b in ("LINEAR", "CIRCULAR")}
    return np.linalg.solve(basis_of[basis].T, coherency.reshape(4)).real


def test_pol_steps_need_cross_hands(noisy_ms, tmp_path):
    """Parallel hands only: K and G solve, a D, Xf or Kcross step is refused at planning, and
    applying a D table is refused too."""
    ms, _ = noisy_ms
    for jones in ("D", "Xf", "Kcross"):
        cfg = load_config(write_config(tmp_path / f"{jones}.yaml", ms=ms, output=str(
            tmp_path / "x.h5"), jones=["G", jones], field="J1407+2827"))
        with pytest.raises(InputError, match=rf"step 1 \({jones}\): jones {jones} needs all "
                                             "four correlations.*has only XX, YY"):
            plan(cfg.solve[0])
    leak = tmp_path / "leak.h5"
    _write_leakage_table(leak, ms)
    path = tmp_path / "apply.yaml"
    path.write_text(yaml.safe_dump({"apply": [{"ms": ms, "target_field": ["TARGET"],
                                               "tables": [str(leak)], "jones": ["D"]}]}))
    with pytest.raises(InputError, match="tables\\[0\\].*cross-hand"):
        plan_apply(load_config(str(path)).apply[0])


def test_second_pass_removes_the_g_before_d_bias(tmp_path):
    """Noiseless: G solved again with D and Xf pre-applied (P on by default, since D is in the
    chain), then D and Xf again, removes the bias of solving G before D."""
    ms, first = str(tmp_path / "n.ms"), str(tmp_path / "first.h5")
    truth = simulate(ms, SimOptions(schedule="polcal", duration=7200, integration=120,
                                    scan_length=600, n_spw=1, n_chan=4, snr=np.inf, seed=8,
                                    terms=("G", "D", "Xf")))
    pinned = {"field_select": "pinned", "solution_field": POLCAL}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"solve": [
        {"ms": ms, "output": first, "ref_ant": 0, "jones": ["G", "D", "Xf"], "field": POLCAL,
         "time_interval": ["int", "inf", "inf"], "freq_interval": ["full", "1", "full"]},
        {"ms": ms, "output": str(tmp_path / "g2.h5"), "ref_ant": 0, "jones": "G",
         "field": POLCAL, "time_interval": "int",
         "external_preapply": {"tables": [first, first], "jones": ["D", "Xf"], **pinned}},
        {"ms": ms, "output": str(tmp_path / "d2.h5"), "ref_ant": 0, "jones": ["D", "Xf"],
         "field": POLCAL, "freq_interval": ["1", "full"], "external_preapply": {"tables": [str(tmp_path / "g2.h5")],
                                                "jones": ["G"], **pinned}}]}))
    for block in load_config(str(path)).solve:
        run_solve(block)
    errors = {}
    for name in ("first", "d2"):
        d = read_solutions(str(tmp_path / f"{name}.h5"), "D")[0]
        got = np.stack([d.native["d_pq"], d.native["d_qp"]], axis=-1)[0]  # (n_chan, ...)
        xf = read_solutions(str(tmp_path / f"{name}.h5"), "Xf")[0]
        phase, _ = _cross_spectrum(truth, 0)
        errors[name] = (np.abs(got - truth.leakage[0]).max(),
                        abs(np.angle(np.exp(1j * (xf.native["phi_pq"][0, 0] - phase)))))
    assert errors["first"][0] > 2e-4 and errors["d2"][0] < 2e-4
    assert errors["d2"][1] < 2e-4


def test_flagged_antenna(tmp_path):
    """An antenna without data gets no leakage (reason: no data) and does not disturb the
    others; Xf is still solved from the rest."""
    ms = str(tmp_path / "flag.ms")
    truth = simulate(ms, SimOptions(schedule="polcal", duration=7200, integration=120,
                                    scan_length=600, n_spw=1, n_chan=4, snr=20.0, seed=3,
                                    flag_ant=(2,), terms=("G", "D", "Xf")))
    cfg = load_config(write_config(tmp_path / "c.yaml", ms=ms, output=str(tmp_path / "c.h5"),
                                   ref_ant=0, jones=["G", "D", "Xf"], field=POLCAL,
                                   time_interval=["int", "inf", "inf"]))
    run_solve(cfg.solve[0])
    d = read_solutions(str(tmp_path / "c.h5"), "D")[0]
    assert d.flags[..., 2].all() and (d.reason[..., 2] == NO_DATA).all()
    good = np.delete(np.arange(d.n_ant), 2)
    assert not d.flags[..., good].any()
    got = np.stack([d.native["d_pq"], d.native["d_qp"]], axis=-1)[0, 0, good]
    true = truth.leakage[0][:, good].mean(axis=0)  # (n_good, 2): freq_interval full
    sigma = 1.0 / d.snr[0, 0, good]
    assert np.all(np.abs(got - true) < 5 * np.sqrt(2) * sigma + BIAS_D)
    xf = read_solutions(str(tmp_path / "c.h5"), "Xf")[0]
    assert not xf.flags.any()


def test_statistics_of_swapped_baselines():
    """A row stored as (q, p) with the Hermitian-transposed visibilities (as some MSs have
    it) gives the same full-2x2 statistics as (p, q)."""
    rng = np.random.default_rng(0)
    n_row, n_chan, n_ant = 30, 3, 5
    ant1, ant2 = np.triu_indices(n_ant, 1)
    ant1, ant2 = np.tile(ant1, 3)[:n_row], np.tile(ant2, 3)[:n_row]
    vis, model = (rng.normal(size=(2, n_row, n_chan, 2, 2))
                  + 1j * rng.normal(size=(2, n_row, n_chan, 2, 2)))
    weight = rng.uniform(0.5, 2, (n_row, n_chan, 4))
    flag = rfi = np.zeros((n_row, n_chan, 4), bool)
    tcell, fcell = np.zeros(n_row, np.int64), np.arange(n_chan)
    herm = lambda x: np.conj(np.swapaxes(x, -1, -2)).reshape(n_row, n_chan, 4)  # noqa: E731
    stats = []
    for swap in (False, True):
        st = PolStats.zeros(1, n_chan, n_ant)
        if swap:  # weights follow their correlations: XY <-> YX
            st.add(herm(vis), herm(model), weight[..., [0, 2, 1, 3]], flag, rfi, tcell, fcell,
                   ant2, ant1, (0, 1, 2, 3))
        else:
            st.add(vis.reshape(n_row, n_chan, 4), model.reshape(n_row, n_chan, 4), weight, flag,
                   rfi, tcell, fcell, ant1, ant2, (0, 1, 2, 3))
        stats.append(st)
    for name in ("sr", "sz", "rr", "n"):
        np.testing.assert_allclose(getattr(stats[1], name), getattr(stats[0], name))
    assert stats[0].n.sum() == n_row * n_chan
    assert PolStats.nbytes(1, n_chan, n_ant) == sum(getattr(stats[0], name).nbytes for name in (
        "sr", "sz", "rr", "n", "n_pre_rfi"))  # what --dry-run adds to its predicted peak
    np.testing.assert_array_equal(stats[0].antenna_counts(), np.bincount(
        np.r_[ant1, ant2], minlength=n_ant) * n_chan)


def test_apply_parang_defaults_on_with_pol_terms(tmp_path):
    """The design's polarisation example sets apply_parang only in apply: D, Xf and Kcross
    steps, pre-applied tables and applied tables turn it on by default; an explicit false
    stands."""
    def parang(**solve):
        path = write_config(tmp_path / "c.yaml", ms="x.ms", output="x.h5", field="F", **solve)
        return load_config(path).solve[0].apply_parang

    assert parang(jones=["K", "G", "D", "Xf"]) is True
    assert parang(jones=["K", "G"]) is False
    assert parang(jones=["G", "Kcross"], apply_parang=False) is False
    (tmp_path / "d.h5").write_text("")
    assert parang(jones=["G"], external_preapply={"tables": [str(tmp_path / "d.h5")],
                                                  "jones": ["D"]}) is True
    (tmp_path / "cal.h5").write_text("")
    path = tmp_path / "apply.yaml"
    for jones, want in ((["G", "D"], True), (["G", "G"], False)):
        path.write_text(yaml.safe_dump({"apply": [{"ms": "x.ms", "target_field": "T",
                                                   "tables": ["cal.h5"] * 2, "jones": jones}]}))
        assert load_config(str(path)).apply[0].apply_parang is want


def test_pol_step_on_parallel_hands_is_one_line_exit_2(noisy_ms, tmp_path):
    """The command line reports the refusal as one line naming the step, exit status 2."""
    ms, _ = noisy_ms
    cfg = write_config(tmp_path / "d.yaml", ms=ms, output=str(tmp_path / "d.h5"),
                       jones=["G", "D"], field="J1407+2827")
    run = subprocess.run([sys.executable, "-m", "alakazam", "run", cfg], capture_output=True,
                         text=True)
    lines = [line for line in run.stderr.splitlines() if "SEVERE" not in line]  # casacore
    assert run.returncode == 2
    assert len(lines) == 1 and "step 1 (D)" in lines[0] and "needs all four" in lines[0]
    assert not (tmp_path / "d.h5").exists()
    # the app shows it under the step's Jones type
    session = Session.load(cfg)
    assert session.problems(read_meta(ms)) == [Problem("solve", 1, "jones", lines[0].split(
        "step 1 (D): ")[1])]


def _write_leakage_table(path, ms):
    """A one-cell D table for the antennas of `ms`, written by the solution store."""
    from alakazam.engine.jones import leakage
    from alakazam.engine.solution import Solution
    from alakazam.engine.store import SolutionWriter

    meta = read_meta(ms)
    n_ant = len(meta.antennas)
    d = np.full((1, 1, n_ant), 0.01 + 0.0j)
    sol = Solution("D", 0, "J1407+2827", 0.0, 0.0, 0, np.array([np.mean(meta.time_range)]),
                   np.array([[0.0, 1e12]]), np.array([1.4e9]), np.array([[1e9, 2e9]]),
                   leakage(d, d), np.zeros((1, 1, n_ant), bool),
                   np.zeros((1, 1, n_ant), np.uint8), np.ones((1, 1, n_ant, 2)),
                   np.full((1, 1), -1), native={"d_pq": d, "d_qp": d})
    with SolutionWriter(str(path), {"ms": ms, "feed_basis": meta.basis}) as writer:
        writer.write(sol)
