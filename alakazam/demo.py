"""`alakazam demo [DIR]`: simulate, write a config, run it, and report recovered vs true.

The chain: K (inf) and B (inf, per channel) on the flux calibrator, then G (60 s, amplitude
and phase) on both calibrators; fluxscale bootstraps the phase calibrator's flux density (its
model is 1 Jy, its truth 2.3 Jy at 1.4 GHz with spectral index -0.7) from the flux calibrator
into cal_scaled.h5; K, B and the phase calibrator's rescaled G are applied to the target.
"""

from __future__ import annotations

import os

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from alakazam.engine.apply import run_apply
from alakazam.engine.config import load_config
from alakazam.engine.fluxscale import read_fluxscale, run_fluxscale
from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.simulate.truth import Truth
from alakazam.engine.sky import PointSource
from alakazam.engine.solve import run_solve
from alakazam.engine.store import read_solutions

DEMO_OPTIONS = SimOptions(terms=("K", "G", "B"), snr=50.0, n_ant=7, n_chan=32, seed=2)


def demo_config(ms: str) -> dict:
    return {
        "solve": [{"ms": ms, "output": "cal.h5", "ref_ant": 0, "apply_parang": True,
                   "jones": ["K", "B", "G"],
                   "field": [["3C286"], ["3C286"], ["3C286", "J1407+2827"]],
                   "time_interval": ["inf", "inf", "60s"],
                   "preapply_time_interp": ["exact", "exact", "linear"]}],
        "fluxscale": [{"reference_table": "cal.h5", "reference_field": "3C286",
                       "transfer_table": "cal.h5", "transfer_field": "J1407+2827",
                       "output": "cal_scaled.h5"}],
        "apply": [{"ms": ms, "target_field": "TARGET", "jones": ["K", "B", "G"],
                   "tables": ["cal.h5", "cal.h5", "cal_scaled.h5"],
                   "time_interp": ["exact", "exact", "linear"],
                   "field_select": ["nearest_time", "nearest_time", "nearest_sky"],
                   "output_col": "CORRECTED_DATA"}],
    }


def run_demo(directory: str, console: Console | None = None) -> dict:
    """Run the demo in `directory` (created; earlier demo files there are replaced);
    returns the figures it prints."""
    console = console or Console()
    os.makedirs(directory, exist_ok=True)
    ms = os.path.join(directory, "demo.ms")
    console.print(f"simulating {ms} (7 antennas, 2 SPW x 32 channels, K G B corruptions, SNR 50)")
    truth = simulate(ms, DEMO_OPTIONS, overwrite=True)
    config_path = os.path.join(directory, "demo.yaml")
    with open(config_path, "w") as fh:
        yaml.safe_dump(demo_config("demo.ms"), fh, sort_keys=False)
    config = load_config(config_path)
    console.print(f"solving K, B on 3C286 and G on 3C286 and J1407+2827 ({config_path})")
    run_solve(config.solve[0])
    console.print("bootstrapping the flux density of J1407+2827 from 3C286 -> cal_scaled.h5")
    run_fluxscale(config.fluxscale[0])
    console.print("applying K, B and the rescaled G to TARGET -> CORRECTED_DATA")
    run_apply(config.apply[0])
    figures = compare(ms, os.path.join(directory, "cal.h5"), truth)
    figures.update(_fluxes(os.path.join(directory, "cal_scaled.h5"), truth))
    console.print(report(figures))
    return figures


def compare(ms: str, table: str, truth: Truth) -> dict:
    """Recovered vs true: the bandpass-times-delay per channel (amplitude fraction and phase
    deg; K alone is not comparable, B's phase slope and K trade off), G phases (deg), and the
    target's flux ratio and residual rms."""
    sols = {(s.jones_type, s.field_name, s.spw_id): s for s in read_solutions(table)}
    out = {"bandpass_amp": [], "bandpass_deg": [], "gain_deg": []}
    flux_t = truth.time_field == 0
    for spw in range(truth.freqs.shape[0]):
        k, b = sols[("K", "3C286", spw)], sols[("B", "3C286", spw)]
        g = sols[("G", "J1407+2827", spw)]
        k_diag = np.stack([k.jones[0, :, :, 0, 0], k.jones[0, :, :, 1, 1]], -1)
        solved = k_diag * b.native["gain"][0]  # (n_chan, n_ant, 2)
        true = _ref(truth.diagonal(spw, np.flatnonzero(flux_t)).mean(axis=0))
        ratio = _ref(solved) / true
        out["bandpass_amp"].append(np.abs(np.abs(ratio) - 1))
        out["bandpass_deg"].append(np.degrees(np.abs(np.angle(ratio))))
        tg = np.array([truth.gains[np.argmin(np.abs(truth.times - t))] for t in g.time])
        t0 = truth.gains[flux_t].mean(axis=0)
        true_rel = _ref(tg / t0[None])  # G relative to its value when B was solved
        out["gain_deg"].append(np.degrees(np.abs(np.angle(g.native["gain"][:, 0] / true_rel))))
    out = {k: float(np.max(v)) for k, v in out.items()}
    out.update(_target(ms, truth))
    return out


def _fluxes(table: str, truth: Truth) -> dict:
    """The phase calibrator's derived flux density per SPW against its true one (Jy), and the
    fitted spectral index against the true one."""
    (res,) = read_fluxscale(table)
    source = PointSource(**next(f for f in truth.fields if f["name"] == res.field)["true"][0])
    true = source.flux(np.array([s.freq_hz for s in res.spws]))[:, 0]
    return {"flux_field": res.field, "flux_derived_jy": [s.flux_jy for s in res.spws],
            "flux_err_jy": [s.flux_err_jy for s in res.spws], "flux_true_jy": true.tolist(),
            "flux_freq_ghz": [s.freq_hz / 1e9 for s in res.spws], "spix": res.spix,
            "spix_err": res.spix_err, "spix_true": source.spix}


def _ref(g: np.ndarray) -> np.ndarray:
    """Remove antenna 0's phase per receptor: g (..., n_ant, 2)."""
    r = g[..., :1, :]
    return g * np.conj(r) / np.abs(r)


def _target(ms: str, truth: Truth) -> dict:
    meta = read_meta(ms)
    num = den = resid = 0.0
    n = 0
    for block in iter_blocks(meta, select(meta, field="TARGET"), ("CORRECTED_DATA",)):
        want = truth.visibilities(block, "true", corrupt=False)[..., [0, -1]]
        got = block.vis["CORRECTED_DATA"][..., [0, -1]]
        ok = ~block.flag[..., [0, -1]]
        num += np.sum((got * np.conj(want))[ok]).real
        den += np.sum(np.abs(want[ok]) ** 2)
        resid += np.sum(np.abs(got - want)[ok] ** 2)
        n += ok.sum()
    return {"target_flux_ratio": num / den, "target_residual_jy": float(np.sqrt(resid / n)),
            "noise_jy": float(np.sqrt(2) * truth.sigma)}


def report(f: dict) -> Table:
    table = Table(title="Recovered vs true (worst over antennas, receptors, channels, SPWs)")
    table.add_column("quantity")
    table.add_column("error or comparison", justify="right")
    table.add_row("B x K amplitude (fraction)", f"{f['bandpass_amp']:.4f}")
    table.add_row("B x K phase (deg)", f"{f['bandpass_deg']:.3f}")
    table.add_row("G phase (deg)", f"{f['gain_deg']:.3f}")
    for ghz, got, err, true in zip(f["flux_freq_ghz"], f["flux_derived_jy"], f["flux_err_jy"],
                                   f["flux_true_jy"]):
        table.add_row(f"{f['flux_field']} flux at {ghz:.3f} GHz: derived vs true (Jy)",
                      f"{got:.3f} ± {err:.3f} vs {true:.3f} ({100 * (got / true - 1):+.1f}%)")
    table.add_row(f"{f['flux_field']} spectral index: derived vs true",
                  f"{f['spix']:+.2f} ± {f['spix_err']:.2f} vs {f['spix_true']:+.2f}")
    table.add_row("target flux / true (after K, B and the rescaled G)",
                  f"{f['target_flux_ratio']:.4f}")
    table.add_row("target residual rms vs data noise (Jy)",
                  f"{f['target_residual_jy']:.4f} vs {f['noise_jy']:.4f}")
    return table
