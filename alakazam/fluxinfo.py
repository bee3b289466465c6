"""`alakazam fluxscale-info TABLE.h5`: the stored flux determinations with their QA, as rich
tables (per transfer field: scale factors, derived flux densities, spectral index; QA scores
as in ALMA's hifa_gfluxscale: completeness, SNR, spectral consistency), warnings in colour."""

from __future__ import annotations

import json

import h5py
import numpy as np
from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from alakazam.engine.errors import InputError
from alakazam.engine.fluxscale import SNR_GOOD, SNR_POOR, FieldFlux, read_fluxscale


def _snr_style(snr: float) -> str:
    return "green" if snr >= SNR_GOOD else "yellow" if snr >= SNR_POOR else "bold red"


def _score(value: float, good: float = 1.0) -> Text:
    return Text(f"{value:.2f}", style="green" if value >= good else
                "yellow" if value >= 0.5 else "bold red")


def field_table(res: FieldFlux, names: list[str]) -> Table:
    table = Table(title=f"{res.field}  (from {res.reference_field}; model "
                        f"{res.model_flux_jy:g} Jy)", title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("SPW", "GHz", "Scale X/R", "Scale Y/L", "Scatter", "Ants", "Flux (Jy)", "SNR",
                "Cat. (Jy)", "Rejected"):
        table.add_column(col, overflow="fold", no_wrap=col != "Rejected")
    for s in res.spws:
        catalogue = f"{res.catalog.at(s.freq_hz):.4f}" if res.catalog else "-"
        rejected = ", ".join(names[a] if a < len(names) else str(a) for a in s.rejected) or "-"
        if not s.ok:
            table.add_row(str(s.spw_id), f"{s.freq_hz / 1e9:.4f}", "-", "-", "-",
                          str(int(s.n_ant.min())), Text("no flux derived", style="bold red"),
                          "-", catalogue, rejected)
            continue
        table.add_row(str(s.spw_id), f"{s.freq_hz / 1e9:.4f}", f"{s.scale[0]:.4f}",
                      f"{s.scale[1]:.4f}", f"{np.nanmax(s.scatter):.5f}",
                      str(int(s.n_ant.min())), f"{s.flux_jy:.4f} ± {s.flux_err_jy:.4f}",
                      Text(f"{s.snr:.0f}", style=_snr_style(s.snr)), catalogue, rejected)
    return table


def qa_lines(res: FieldFlux) -> list[Text]:
    lines = []
    if np.isfinite(res.spix):
        lines.append(Text(f"  spectral index {res.spix:+.3f} ± {res.spix_err:.3f}, "
                          f"{res.flux_ref_jy:.4f} Jy at {res.ref_freq_hz / 1e9:.4f} GHz"))
    else:
        lines.append(Text("  spectral index: needs flux densities in two or more SPWs",
                          style="yellow"))
    line = Text("  QA: completeness ")
    line.append_text(_score(res.completeness))
    line.append(f"  SNR {res.snr:.0f} (score ")
    line.append_text(_score(res.snr_score))
    line.append(")")
    consistency = res.consistency()
    if consistency is not None:
        line.append(f"  spectral consistency: max |1 - K| {consistency[0]:.3f} (score ")
        line.append_text(_score(consistency[1]))
        line.append(")")
    lines.append(line)
    if res.completeness < 1:
        lines.append(Text("  WARNING: some SPWs have no derived flux; their solutions are "
                          "flagged in this file", style="bold red"))
    if res.snr < SNR_GOOD:
        lines.append(Text(f"  WARNING: flux SNR below {SNR_GOOD:.0f}", style="bold yellow"))
    if consistency is not None and consistency[1] < 1:
        lines.append(Text("  WARNING: the derived spectrum departs from the catalogue by more "
                          "than 10%", style="bold yellow"))
    return lines


def render(path: str) -> Group:
    results = read_fluxscale(path)
    if not results:
        raise InputError(f"{path}: no flux scale in it (written by a fluxscale block)")
    with h5py.File(path, "r") as h5:
        names = json.loads(h5.attrs.get("antenna_names", "[]"))
    parts = [Text(f"Flux scale in {path}", style="bold")]
    for res in results:
        parts += [field_table(res, names), *qa_lines(res)]
    return Group(*parts)


def print_fluxscale_info(path: str, console: Console | None = None) -> None:
    (console or Console()).print(render(path))
