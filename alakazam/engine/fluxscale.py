"""Flux-scale bootstrapping (CONVENTIONS.md "Flux scale"; QA as the ALMA pipeline's
hifa_gfluxscale).

For each transfer field, SPW and receptor r: the transfer field's G amplitudes are interpolated
(linear in time and frequency) to the times and frequencies of the reference field's solutions,
so that both are compared at the same moments even when the gains drift; per antenna the ratio
|g_ref,r|^2 / |g_transfer,r|^2 is the median over those cells. Antennas more than
amp_outlier_sigma robust sigmas (1.4826 MAD, at least MIN_SPREAD of the median) from the
median ratio are rejected; of the rest,
scale_r = median and scatter_r = 1.4826 MAD / sqrt(n_ant). The derived flux density is
S = S_model / scale with scale the mean of the two receptors' (so that a polarised reference
whose XX and YY differ does not bias it to first order), its error from the scatters; a power law
S = S_ref (nu / nu_ref)^spix is fitted across SPWs (weighted least squares in log-log, nu_ref
the weighted geometric mean frequency, so that S_ref and spix are uncorrelated).

The output is a new file: a copy of the transfer table (or of the output written by an earlier
block of the same run, which this block then appends to) in which each transfer field's G is
multiplied by sqrt(scale_r) and the fluxscale/field_<name>/spw_<id> groups hold the figures.
It is written under a temporary name and renamed; the input tables are only read.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone

import h5py
import numpy as np

from alakazam.engine.config import CatalogFlux, FluxscaleBlock
from alakazam.engine.errors import InputError
from alakazam.engine.interp import interpolate
from alakazam.engine.selection import parse_id_list
from alakazam.engine.solution import Solution
from alakazam.engine.solvers.stefcal import NO_FLUXSCALE
from alakazam.engine.store import read_solutions

MIN_ANTENNAS = 3  # fewer antennas valid in both fields: no scale for that SPW and receptor
# The robust sigma of the per-antenna ratios is at least this fraction of their median: with
# few antennas at high SNR the MAD can be tiny, and healthy antennas differ by the ordinary
# drift of their gains between the fields' scans (a few 0.1%); an outlier departs from that.
MIN_SPREAD = 0.01
SNR_GOOD, SNR_POOR = 20.0, 5.0  # ALMA: warning below 20, failure below 5


@dataclass
class SpwFlux:
    """One SPW of a transfer field. scale, scatter: (2,) per receptor (NaN: none);
    n_ant: (2,) antennas used; rejected: antenna ids rejected as outliers; freq_hz: the SPW's
    solution frequency (mean); flux_jy, flux_err_jy: derived flux density and its error."""

    spw_id: int
    freq_hz: float
    scale: np.ndarray
    scatter: np.ndarray
    n_ant: np.ndarray
    rejected: list[int]
    flux_jy: float
    flux_err_jy: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.flux_jy))

    @property
    def snr(self) -> float:
        return self.flux_jy / self.flux_err_jy if self.flux_err_jy > 0 else np.inf


@dataclass
class FieldFlux:
    """The flux determination of one transfer field: spws (every SPW of its transfer table
    solutions), the power-law fit (spix, its error, ref_freq_hz, flux_ref_jy; NaN with fewer
    than two SPWs), the model and catalogue fluxes it was compared with."""

    field: str
    reference_field: str
    model_flux_jy: float
    spws: list[SpwFlux]
    spix: float
    spix_err: float
    ref_freq_hz: float
    flux_ref_jy: float
    catalog: CatalogFlux | None = None

    # ---- QA (ALMA hifa_gfluxscale) ----------------------------------------------------
    @property
    def completeness(self) -> float:
        """Fraction of SPWs with a derived flux density."""
        return sum(s.ok for s in self.spws) / len(self.spws) if self.spws else 0.0

    @property
    def snr(self) -> float:
        """The lowest SNR of the flux determination over the SPWs that have one."""
        return min((s.snr for s in self.spws if s.ok), default=0.0)

    @property
    def snr_score(self) -> float:
        """1 at SNR >= 20, 0 at SNR <= 5, linear between (ALMA's warning and failure limits)."""
        return float(np.clip((self.snr - SNR_POOR) / (SNR_GOOD - SNR_POOR), 0.0, 1.0))

    def consistency(self) -> tuple[float, float] | None:
        """(max |1 - K_spw|, score 1 / 0.75 / 0.5) against the catalogue, K_spw = R_spw /
        R_best with R = derived / catalogue flux and R_best that of the highest-SNR SPW."""
        good = [s for s in self.spws if s.ok]
        if self.catalog is None or not good:
            return None
        ratio = {s.spw_id: s.flux_jy / self.catalog.at(s.freq_hz) for s in good}
        best = max(good, key=lambda s: s.snr).spw_id
        deviation = max(abs(1 - r / ratio[best]) for r in ratio.values())
        return deviation, 1.0 if deviation < 0.1 else 0.75 if deviation <= 0.2 else 0.5


def antenna_ratios(ref: Solution, transfer: Solution) -> np.ndarray:
    """Per antenna and receptor the median over the reference cells of |g_ref|^2 /
    |g_transfer|^2, the transfer gains interpolated to the reference times and frequencies
    (n_ant, 2); NaN where the antenna has no cell valid in both."""
    for sol in (ref, transfer):
        if sol.attrs.get("phase_only"):
            raise InputError(f"{sol.jones_type} of field {sol.field_name} SPW {sol.spw_id} is "
                             "phase-only: it has no amplitudes to transfer a flux scale with")
    tj, tflags = interpolate(transfer, ref.time, ref.freq, "linear")
    out = np.full((ref.n_ant, 2), np.nan)
    for r in range(2):
        a_ref = np.abs(ref.jones[..., r, r]) ** 2
        a_tr = np.abs(tj[..., r, r]) ** 2
        ok = ~ref.flags & ~tflags & (a_tr > 0)
        ratio = np.where(ok, a_ref / np.where(ok, a_tr, 1.0), np.nan)  # (n_t, n_f, n_ant)
        has = ok.any(axis=(0, 1))
        out[has, r] = np.nanmedian(ratio[:, :, has], axis=(0, 1))
    return out


def robust_scale(ratios: np.ndarray, sigma: float):
    """From per-antenna ratios (n_ant,) (NaN: none): (scale, scatter, n_used, rejected ids);
    scale NaN when fewer than MIN_ANTENNAS antennas remain."""
    ants = np.flatnonzero(np.isfinite(ratios))
    values = ratios[ants]
    if len(values) == 0:
        return np.nan, np.nan, 0, []
    med = np.median(values)
    spread = max(1.4826 * np.median(np.abs(values - med)), MIN_SPREAD * med)
    keep = np.abs(values - med) <= sigma * spread
    rejected = [int(a) for a in ants[~keep]]
    kept = values[keep]
    if len(kept) < MIN_ANTENNAS:
        return np.nan, np.nan, len(kept), rejected
    scale = float(np.median(kept))
    scatter = 1.4826 * float(np.median(np.abs(kept - scale))) / np.sqrt(len(kept))
    return scale, scatter, len(kept), rejected


def spw_flux(ref: Solution, transfer: Solution, model_jy: float, sigma: float) -> SpwFlux:
    ratios = antenna_ratios(ref, transfer)
    scale, scatter, n_ant, rejected = np.full(2, np.nan), np.full(2, np.nan), np.zeros(2, int), set()
    for r in range(2):
        scale[r], scatter[r], n_ant[r], rej = robust_scale(ratios[:, r], sigma)
        rejected.update(rej)
    mean = float(np.mean(scale))  # NaN unless both receptors have a scale
    flux = model_jy / mean
    error = flux * float(np.sqrt(np.sum(scatter ** 2)) / 2) / mean
    return SpwFlux(transfer.spw_id, float(np.mean(transfer.freq)), scale, scatter, n_ant,
                   sorted(rejected), flux, error)


def power_law(freqs: np.ndarray, flux: np.ndarray, err: np.ndarray):
    """Weighted fit of ln S = ln S_ref + spix ln(nu / nu_ref): (spix, spix_err, nu_ref Hz,
    S_ref Jy); NaNs with fewer than two points."""
    if len(freqs) < 2:
        return np.nan, np.nan, np.nan, np.nan
    x = np.log(freqs)
    y = np.log(flux)
    w = 1.0 / np.maximum(err / flux, 1e-9) ** 2
    x0 = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - x0) ** 2)
    if sxx <= 0:
        return np.nan, np.nan, float(np.exp(x0)), float(np.exp(np.sum(w * y) / np.sum(w)))
    spix = np.sum(w * (x - x0) * y) / sxx
    return float(spix), float(1 / np.sqrt(sxx)), float(np.exp(x0)), \
        float(np.exp(np.sum(w * y) / np.sum(w)))


def derive(block: FluxscaleBlock, key: str = "fluxscale[0]") -> list[FieldFlux]:
    """The flux determination of every transfer field of `block` (reads the tables only)."""
    ref = _by_field(read_solutions(block.reference_table, block.jones_type), block.reference_table)
    tra = _by_field(read_solutions(block.transfer_table, block.jones_type), block.transfer_table)
    if block.reference_field not in ref:
        raise InputError(f"{key}.reference_field: {block.reference_field!r} has no "
                         f"{block.jones_type} solutions in {block.reference_table} "
                         f"(fields: {', '.join(sorted(ref))})")
    wanted = set(parse_id_list(block.spw, f"{key}.spw")) if block.spw is not None else None
    out = []
    for name in block.transfer_fields:
        if name not in tra:
            raise InputError(f"{key}.transfer_field: {name!r} has no {block.jones_type} "
                             f"solutions in {block.transfer_table} (fields: {', '.join(sorted(tra))})")
        spws = []
        for spw_id, sol in sorted(tra[name].items()):
            if wanted is not None and spw_id not in wanted:
                continue
            reference = ref[block.reference_field].get(spw_id)
            if reference is None:
                spws.append(SpwFlux(spw_id, float(np.mean(sol.freq)), np.full(2, np.nan),
                                    np.full(2, np.nan), np.zeros(2, int), [], np.nan, np.nan))
                continue
            spws.append(spw_flux(reference, sol, block.model_flux_jy[name],
                                 block.amp_outlier_sigma))
        if not spws:
            raise InputError(f"{key}.spw: no SPW of {name} selected")
        good = [s for s in spws if s.ok]
        fit = power_law(np.array([s.freq_hz for s in good]), np.array([s.flux_jy for s in good]),
                        np.array([s.flux_err_jy for s in good]))
        out.append(FieldFlux(name, block.reference_field, block.model_flux_jy[name], spws, *fit,
                             catalog=block.catalog.get(name)))
    return out


def run_fluxscale(block: FluxscaleBlock, key: str = "fluxscale[0]",
                  append: bool = False) -> list[FieldFlux]:
    """Derive the flux scale and write `block.output`: a copy of the transfer table (or, with
    `append`, of the existing output, completed with the transfer table's other groups) with
    the transfer fields' G rescaled and the fluxscale groups added. A field that the output
    already holds a flux scale for is an InputError: nothing is overwritten."""
    results = derive(block, key)
    tmp = f"{block.output}.partial-{os.getpid()}"
    if not os.path.isdir(os.path.dirname(os.path.abspath(block.output))):
        raise InputError(f"{key}.output: directory of {block.output} does not exist")
    try:
        shutil.copyfile(block.output if append else block.transfer_table, tmp)
        with h5py.File(tmp, "a") as out:
            if append:
                _complete(out, block.transfer_table)
            for res in results:
                _write_field(out, block, res, key)
        os.replace(tmp, block.output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return results


def read_fluxscale(path: str) -> list[FieldFlux]:
    """The flux determinations stored in a solution file (empty if it has none)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file or directory")
    out = []
    try:
        h5 = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path}: not an HDF5 file") from None
    with h5:
        for fname, fgroup in h5.get("fluxscale", {}).items():
            fa = fgroup.attrs
            spws = []
            for sname, sg in fgroup.items():
                a = sg.attrs
                spws.append(SpwFlux(int(sname.split("_")[1]), float(a["freq_hz"]),
                                    np.array([a["scale_p"], a["scale_q"]], float),
                                    np.array([a["scatter_p"], a["scatter_q"]], float),
                                    np.array(json.loads(a["n_ant"])), json.loads(a["rejected_antennas"]),
                                    float(a["flux_jy"]), float(a["flux_err_jy"])))
            catalog = json.loads(fa["catalog"])
            out.append(FieldFlux(fname[len("field_"):], str(fa["reference_field"]),
                                 float(fa["model_flux_jy"]), sorted(spws, key=lambda s: s.spw_id),
                                 float(fa["spix"]), float(fa["spix_err"]), float(fa["ref_freq_hz"]),
                                 float(fa["flux_ref_jy"]),
                                 CatalogFlux(**catalog) if catalog else None))
    return out


# ---- writing ----------------------------------------------------------------------------
def _by_field(sols: list[Solution], path: str) -> dict[str, dict[int, Solution]]:
    out: dict[str, dict[int, Solution]] = {}
    for s in sols:
        out.setdefault(s.field_name, {})[s.spw_id] = s
    if not out:
        raise InputError(f"{path}: no G solutions in it")
    return out


def _complete(out: h5py.File, transfer_table: str) -> None:
    """Copy the groups of `transfer_table` that the output does not hold yet."""
    with h5py.File(transfer_table, "r") as src:
        for jtype in src:
            if jtype == "fluxscale":
                continue
            for fname in src[jtype]:
                if f"{jtype}/{fname}" not in out:
                    src.copy(src[jtype][fname], out.require_group(jtype), name=fname)


def _write_field(out: h5py.File, block: FluxscaleBlock, res: FieldFlux, key: str) -> None:
    """Rescale the field's G by sqrt(scale) (SPWs without a scale: flagged, reason
    'no flux scale') and add its fluxscale group."""
    path = f"fluxscale/field_{res.field}"
    if path in out:
        raise InputError(f"{key}.output: {block.output} already holds a flux scale for "
                         f"{res.field} (an earlier block); outputs are appended to, never "
                         "overwritten")
    now = datetime.now(timezone.utc).isoformat()
    for s in res.spws:
        group = out[f"{block.jones_type}/field_{res.field}/spw_{s.spw_id}"]
        if s.ok:
            factor = np.sqrt(s.scale)
            jones = group["jones"][()]
            jones[..., 0, :] *= factor[0]
            jones[..., 1, :] *= factor[1]
            group["jones"][...] = jones
            if "gain" in group:
                group["gain"][...] = group["gain"][()] * factor
            group.attrs["fluxscale_factor"] = json.dumps(s.scale.tolist())
        else:
            group["flags"][...] = True
            group["reason"][...] = NO_FLUXSCALE
        fs = out.require_group(f"{path}/spw_{s.spw_id}")
        fs.attrs.update({"scale_p": s.scale[0], "scale_q": s.scale[1],
                         "scatter_p": s.scatter[0], "scatter_q": s.scatter[1],
                         "n_ant": json.dumps(s.n_ant.tolist()),
                         "rejected_antennas": json.dumps(s.rejected), "freq_hz": s.freq_hz,
                         "flux_jy": s.flux_jy, "flux_err_jy": s.flux_err_jy,
                         "reference_field": res.reference_field,
                         "reference_table": os.path.abspath(block.reference_table),
                         "jones_type": block.jones_type, "created_utc": now})
    catalog = res.catalog
    out[path].attrs.update({
        "reference_field": res.reference_field, "model_flux_jy": res.model_flux_jy,
        "spix": res.spix, "spix_err": res.spix_err, "ref_freq_hz": res.ref_freq_hz,
        "flux_ref_jy": res.flux_ref_jy, "completeness": res.completeness, "snr": res.snr,
        "transfer_table": os.path.abspath(block.transfer_table),
        "amp_outlier_sigma": block.amp_outlier_sigma, "created_utc": now,
        "catalog": json.dumps(vars(catalog) if catalog else {})})
