"""Flux-scale bootstrapping: the phase calibrator's MODEL_DATA is 1 Jy while its true flux
density is 2.3 Jy at 1.4 GHz with spectral index -0.7; fluxscale must recover it per SPW from
the G amplitudes, fit the spectral index, and its rescaled gains must calibrate the target.

Gain amplitudes drift by 1% (SimOptions.gain_drift) over the observation: fluxscale compares
the fields' gains at the reference's times, so the drift between the flux calibrator's scan
and the nearest phase-calibrator solutions (2-3 min) adds well under 0.1%. The other bias is
physical: G of a 256 MHz SPW averages the source's power law over the band, 0.1-0.3% above
its value at the mean frequency. Noise (SNR 100) adds < 0.1%. Hence the 1% bounds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import yaml
from solve_helpers import corrected_vs_truth

from alakazam.engine.apply import run_apply
from alakazam.engine.config import load_config
from alakazam.engine.errors import InputError
from alakazam.engine.fluxscale import read_fluxscale, run_fluxscale
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import run_solve
from alakazam.engine.solvers import REASONS
from alakazam.engine.store import read_solutions

TRUE_FLUX, TRUE_SPIX, REF_FREQ = 2.3, -0.7, 1.4e9
OUTLIER = 3  # the antenna whose amplitudes are corrupted on the phase calibrator


def true_flux(freq):
    return TRUE_FLUX * (freq / REF_FREQ) ** TRUE_SPIX


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """4 SPWs over 1.0-2.0 GHz; K on 3C286, G (60 s) on 3C286 and the phase calibrator."""
    folder = tmp_path_factory.mktemp("fluxscale")
    ms = str(folder / "fs.ms")
    truth = simulate(ms, SimOptions(terms=("K", "G"), snr=100.0, n_spw=4, start_freq=1.0e9,
                                    spw_bandwidth=256e6, gain_drift=0.01, seed=5))
    doc = {"solve": [{"ms": "fs.ms", "output": "cal.h5", "ref_ant": 0, "apply_parang": True,
                      "jones": ["K", "G"], "field": [["3C286"], ["3C286", "J1407+2827"]],
                      "time_interval": ["inf", "60s"]}]}
    (folder / "solve.yaml").write_text(yaml.safe_dump(doc))
    run_solve(load_config(str(folder / "solve.yaml")).solve[0])
    return folder, truth


def md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def fluxscale_doc(**overrides):
    block = {"reference_table": "cal.h5", "reference_field": "3C286", "transfer_table": "cal.h5",
             "transfer_field": "J1407+2827", "output": "scaled.h5",
             "catalog": {"J1407+2827": {"flux_jy": TRUE_FLUX, "spix": TRUE_SPIX,
                                        "ref_freq": "1.4GHz"}}}
    block.update(overrides)
    return {"fluxscale": [block]}


def run_doc(folder, doc, name="fs.yaml"):
    (folder / name).write_text(yaml.safe_dump(doc))
    return subprocess.run([sys.executable, "-m", "alakazam", "run", str(folder / name)],
                          capture_output=True, text=True)


def test_derived_flux_spectral_index_and_calibrated_target(solved, tmp_path):
    folder, truth = solved
    before = md5(folder / "cal.h5")
    result = run_doc(folder, fluxscale_doc())
    assert result.returncode == 0, result.stderr
    assert md5(folder / "cal.h5") == before  # the input is never modified
    (res,) = read_fluxscale(str(folder / "scaled.h5"))
    for s in res.spws:
        error = s.flux_jy / true_flux(s.freq_hz) - 1
        print(f"SPW {s.spw_id} {s.freq_hz / 1e9:.3f} GHz: {s.flux_jy:.4f} ± {s.flux_err_jy:.4f} "
              f"Jy, true {true_flux(s.freq_hz):.4f} ({100 * error:+.2f}%), SNR {s.snr:.0f}")
        assert abs(error) < 0.01
        assert s.n_ant.min() >= 6
    print(f"spectral index {res.spix:.4f} ± {res.spix_err:.4f}")
    assert abs(res.spix - TRUE_SPIX) < 0.05
    assert res.completeness == 1.0 and res.snr > 20
    deviation, score = res.consistency()
    assert deviation < 0.01 and score == 1.0
    # the rescaled G carries the true gain amplitude: |g_scaled|^2 = |g|^2 * scale
    original = {(s.field_name, s.spw_id): s for s in read_solutions(str(folder / "cal.h5"), "G")}
    for sol in read_solutions(str(folder / "scaled.h5"), "G"):
        factor = 1.0
        if sol.field_name == "J1407+2827":
            factor = res.spws[sol.spw_id].scale[None, None, None, :]
        before_amp = np.abs(np.diagonal(original[sol.field_name, sol.spw_id].jones, 0, 3, 4))
        np.testing.assert_allclose(np.abs(np.diagonal(sol.jones, 0, 3, 4)),
                                   before_amp * np.sqrt(factor), rtol=1e-12)
    # applying K and the rescaled G of the phase calibrator calibrates the target's flux
    ms = str(tmp_path / "t.ms")
    shutil.copytree(folder / "fs.ms", ms)
    apply = {"apply": [{"ms": ms, "target_field": "TARGET", "jones": ["K", "G"],
                        "tables": [str(folder / "cal.h5"), str(folder / "scaled.h5")],
                        "field_select": ["nearest_time", "pinned"],
                        "solution_field": [None, "J1407+2827"]}]}
    (tmp_path / "apply.yaml").write_text(yaml.safe_dump(apply))
    run_apply(load_config(str(tmp_path / "apply.yaml")).apply[0])
    ratio, rms, noise = corrected_vs_truth(ms, truth)
    print(f"target flux ratio {ratio:.4f}, residual rms {rms:.4f} Jy (noise {noise:.4f} Jy)")
    assert abs(ratio - 1) < 0.01


def test_outlier_antenna_is_rejected(solved):
    """Antenna 3's amplitudes on the phase calibrator are 40% high (a bad receiver during those
    scans): rejected at amp_outlier_sigma 5 in every SPW and the flux stays within 1%; with the
    rejection off (a huge sigma) it is counted among the antennas used."""
    folder, _ = solved
    bad = folder / "bad.h5"
    shutil.copyfile(folder / "cal.h5", bad)
    with h5py.File(bad, "a") as h5:
        for spw in h5["G/field_J1407+2827"].values():
            jones = spw["jones"][()]
            jones[:, :, OUTLIER] *= 1.4
            spw["jones"][...] = jones
    runs = {}
    for sigma in (5.0, 1e9):
        out = f"bad_{sigma:g}.h5"
        result = run_doc(folder, fluxscale_doc(transfer_table="bad.h5", output=out,
                                               amp_outlier_sigma=sigma))
        assert result.returncode == 0, result.stderr
        (runs[sigma],) = read_fluxscale(str(folder / out))
    for s in runs[5.0].spws:
        assert s.rejected == [OUTLIER]
        assert abs(s.flux_jy / true_flux(s.freq_hz) - 1) < 0.01
    for kept, rejected in zip(runs[1e9].spws, runs[5.0].spws):
        assert kept.rejected == [] and kept.n_ant.min() == rejected.n_ant.min() + 1


def test_blocks_append_to_one_output_and_never_overwrite(solved):
    """Two blocks, one output: the second (J1407+2827 as reference for 3C286) appends its
    field; a third block on a field the output already holds is refused; inputs unchanged;
    re-running the config rebuilds the output."""
    folder, _ = solved
    before = md5(folder / "cal.h5")
    first = fluxscale_doc(output="both.h5")["fluxscale"][0]
    second = {"reference_table": "cal.h5", "reference_field": "J1407+2827",
              "transfer_table": "cal.h5", "transfer_field": "3C286", "output": "both.h5"}
    result = run_doc(folder, {"fluxscale": [first, second]}, "append.yaml")
    assert result.returncode == 0, result.stderr
    stored = {r.field: r for r in read_fluxscale(str(folder / "both.h5"))}
    assert set(stored) == {"J1407+2827", "3C286"}
    # the first block's rescaled J1407+2827 survives the second block
    g = {(s.field_name, s.spw_id): s for s in read_solutions(str(folder / "both.h5"), "G")}
    raw = {(s.field_name, s.spw_id): s for s in read_solutions(str(folder / "cal.h5"), "G")}
    key = ("J1407+2827", 0)
    ratio = np.abs(g[key].jones[..., 0, 0]) / np.abs(raw[key].jones[..., 0, 0])
    np.testing.assert_allclose(ratio, np.sqrt(stored["J1407+2827"].spws[0].scale[0]), rtol=1e-9)
    # a third block on a field already scaled into that output: refused before any work
    kept = md5(folder / "both.h5")
    result = run_doc(folder, {"fluxscale": [first, second, first]}, "twice.yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "fluxscale[2].transfer_field: J1407+2827 is already scaled into both.h5" in \
        result.stderr
    assert md5(folder / "both.h5") == kept
    assert not [p for p in folder.iterdir() if ".partial" in p.name]
    assert md5(folder / "cal.h5") == before
    # the same config run again rebuilds its output (the first block starts a new file)
    assert run_doc(folder, {"fluxscale": [first, second]}, "append.yaml").returncode == 0


def test_missing_reference_spw_flags_the_transfer_spw(solved):
    """The reference has no solutions in SPW 3: no flux there (completeness 3/4), the
    transfer field's SPW 3 solutions are flagged with reason 'no flux scale', and
    fluxscale-info warns."""
    folder, _ = solved
    shutil.copyfile(folder / "cal.h5", folder / "ref3.h5")
    with h5py.File(folder / "ref3.h5", "a") as h5:
        del h5["G/field_3C286/spw_3"]
    result = run_doc(folder, fluxscale_doc(reference_table="ref3.h5", output="partial.h5"))
    assert result.returncode == 0, result.stderr
    (res,) = read_fluxscale(str(folder / "partial.h5"))
    assert res.completeness == 0.75 and not res.spws[3].ok
    sol = next(s for s in read_solutions(str(folder / "partial.h5"), "G")
               if s.field_name == "J1407+2827" and s.spw_id == 3)
    assert sol.flags.all() and {REASONS[int(r)] for r in np.unique(sol.reason)} == {"no flux scale"}
    info = subprocess.run([sys.executable, "-m", "alakazam", "fluxscale-info",
                           str(folder / "partial.h5")], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "160"})
    assert info.returncode == 0, info.stderr
    assert "completeness 0.75" in info.stdout and "no flux derived" in info.stdout
    assert "WARNING: some SPWs have no derived flux" in info.stdout


def test_catalogue_inconsistency_is_flagged_by_qa(solved):
    """A catalogue spectrum with the wrong spectral index (+0.5): spectral consistency score
    below 1 and a warning in fluxscale-info."""
    folder, _ = solved
    doc = fluxscale_doc(output="cat.h5", catalog={"J1407+2827": {
        "flux_jy": TRUE_FLUX, "spix": 0.5, "ref_freq": 1.4e9}})
    assert run_doc(folder, doc).returncode == 0
    (res,) = read_fluxscale(str(folder / "cat.h5"))
    deviation, score = res.consistency()
    assert deviation > 0.2 and score == 0.5
    info = subprocess.run([sys.executable, "-m", "alakazam", "fluxscale-info",
                           str(folder / "cat.h5")], capture_output=True, text=True)
    assert "departs from the catalogue" in info.stdout


@pytest.mark.parametrize("overrides, needle", [
    ({"output": "cal.h5"}, "fluxscale[0].output: must be a new file"),
    ({"reference_field": "NGC1"}, "fluxscale[0].reference_field: 'NGC1' has no G solutions"),
    ({"transfer_field": "3C286", "catalog": {}}, "is the reference field"),
    ({"jones_type": "K"}, "fluxscale[0].jones_type"),
    ({"amp_outlier_sigma": -1}, "fluxscale[0].amp_outlier_sigma"),
    ({"catalog": {"J1407+2827": {"flux_jy": 2}}}, "fluxscale[0].catalog.J1407+2827"),
    ({"reference_table": "nope.h5"}, "fluxscale[0].reference_table: nope.h5: no such file"),
])
def test_fluxscale_mistakes_are_one_line(solved, overrides, needle):
    folder, _ = solved
    result = run_doc(folder, fluxscale_doc(**overrides), "bad.yaml")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_phase_only_gains_cannot_transfer_a_flux_scale(solved, tmp_path):
    folder, _ = solved
    shutil.copyfile(folder / "cal.h5", tmp_path / "po.h5")
    with h5py.File(tmp_path / "po.h5", "a") as h5:
        h5["G/field_J1407+2827/spw_0"].attrs["phase_only"] = True
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(fluxscale_doc(
        reference_table=str(folder / "cal.h5"), transfer_table="po.h5", catalog={})))
    with pytest.raises(InputError, match="phase-only"):
        run_fluxscale(load_config(str(tmp_path / "c.yaml")).fluxscale[0])
    assert not list(tmp_path.glob("scaled.h5*"))
