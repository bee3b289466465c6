"""`alakazam listobs MS`: a rich summary of a Measurement Set, like CASA's listobs."""

from __future__ import annotations

import numpy as np
from rich.console import Console, Group
from rich.table import Table

from alakazam.engine import fluxstandards
from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta, utc
from alakazam.engine.selection import Selection


def hms(ra: float) -> str:
    hours = (np.degrees(ra) / 15.0) % 24
    h, rem = divmod(hours * 3600, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def dms(dec: float) -> str:
    sign = "-" if dec < 0 else "+"
    deg = abs(np.degrees(dec))
    d, rem = divmod(deg * 3600, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{int(d):02d}:{int(m):02d}:{s:05.2f}"


def render(meta: MSMeta, sel: Selection = Selection(),
           standard: str = fluxstandards.DEFAULT_STANDARD) -> Group:
    """The summary as rich renderables: header, fields, scans, SPWs, flux calibrators (with
    their model flux density in `standard` at each SPW's centre), correlations, antennas;
    fields, scans and SPWs restricted to those of `sel`."""
    def chosen(ids, wanted):
        return wanted is None or bool(set(ids) & set(wanted))
    t0, t1 = meta.time_range
    header = Table.grid(padding=(0, 2))
    header.add_row("[b]MS[/b]", meta.path)
    header.add_row("[b]Telescope[/b]", meta.telescope or "?")
    header.add_row("[b]Observer[/b]", meta.observer or "?")
    header.add_row("[b]Time range[/b]", f"{utc(t0)} - {utc(t1, '%H:%M:%S')} UTC "
                   f"({(t1 - t0) / 3600:.2f} h)")
    header.add_row("[b]Rows[/b]", f"{meta.n_rows}   integration {meta.integration_time:g} s")
    header.add_row("[b]Feed basis[/b]", meta.basis if meta.data_descriptions else "?")
    header.add_row("[b]Data columns[/b]", ", ".join(c for c in meta.columns if c.endswith("DATA")))

    fields = Table(title="Fields", title_justify="left")
    for col in ("ID", "Name", "RA (J2000)", "Dec (J2000)", "Frame", "Flux cal", "Rows"):
        fields.add_column(col, justify="right" if col in ("ID", "Rows") else "left", overflow="fold")
    shown = [f for f in meta.fields if chosen([f.id], sel.field_ids)]
    known = {f.id: fluxstandards.identify(f.name, f.ra, f.dec) for f in shown}
    for f in shown:
        fields.add_row(str(f.id), f.name, hms(f.ra), dms(f.dec), f.frame, known[f.id] or "",
                       str(f.n_rows))

    scans = Table(title="Scans", title_justify="left")
    for col in ("Scan", "Start", "End", "Field", "SPWs", "Intents", "Rows"):
        scans.add_column(col, justify="right" if col in ("Scan", "Rows") else "left", overflow="fold")
    for s in meta.scans:
        if not (chosen([s.number], sel.scans) and chosen(s.field_ids, sel.field_ids)
                and chosen(s.spw_ids, sel.spw_ids)):
            continue
        names = ", ".join(meta.fields[i].name if i < len(meta.fields) else str(i)
                          for i in s.field_ids)
        intents = ", ".join(dict.fromkeys(i.split("#")[0] for i in s.intents)) or "-"
        scans.add_row(str(s.number), utc(s.start, "%H:%M:%S"), utc(s.end, "%H:%M:%S"), names,
                      ",".join(map(str, s.spw_ids)), intents, str(s.n_rows))

    spws = Table(title="Spectral windows", title_justify="left")
    for col in ("ID", "Name", "Channels", "First (MHz)", "Last (MHz)", "Width (kHz)", "Ref (MHz)"):
        spws.add_column(col, justify="left" if col == "Name" else "right", overflow="fold")
    for w in meta.spws:
        if not chosen([w.id], sel.spw_ids):
            continue
        spws.add_row(str(w.id), w.name, str(w.n_chan), f"{w.freqs[0] / 1e6:.4f}",
                     f"{w.freqs[-1] / 1e6:.4f}", f"{w.widths[0] / 1e3:.3f}", f"{w.ref_freq / 1e6:.4f}")

    spw_list = [w for w in meta.spws if chosen([w.id], sel.spw_ids)]
    calibrators = _calibrators(meta, [f for f in shown if known[f.id]], known, spw_list, standard)

    pols = Table(title="Correlations", title_justify="left")
    for col in ("Pol ID", "Basis", "Correlations", "Full polarisation"):
        pols.add_column(col, overflow="fold")
    for p in meta.polarizations:
        pols.add_row(str(p.id), p.basis, " ".join(p.corr_names), "yes" if p.full else "no")

    ants = Table(title="Antennas", title_justify="left")
    for col in ("ID", "Name", "Station", "Diameter (m)", "Receptor angles (deg)", "Data"):
        ants.add_column(col, justify="right" if col == "ID" else "left", overflow="fold")
    for i, name in enumerate(meta.antennas.names):
        angles = " ".join(f"{a:.1f}" for a in np.degrees(meta.receptor_angles[i]))
        ants.add_row(str(i), name, meta.antennas.stations[i], f"{meta.antennas.diameters[i]:g}",
                     angles, "yes" if meta.antennas.has_data[i] else "[red]no data[/red]")
    parts = [header, fields, scans, spws] + ([calibrators] if calibrators else []) + [pols, ants]
    return Group(*parts)


def _calibrators(meta: MSMeta, fields, known: dict, spws, standard: str) -> Table | None:
    """Model flux densities (Jy) of the recognised flux calibrators at each SPW's centre, in
    `standard` (or the first standard holding the source), or None when there are none."""
    if not fields:
        return None
    year = fluxstandards.decimal_year(float(np.mean(meta.time_range)))
    table = Table(title="Flux calibrators (model Stokes I at SPW centres, Jy)",
                  title_justify="left")
    for col in ("Field", "Source", "Standard", "Model flux density"):
        table.add_column(col, overflow="fold")
    for f in fields:
        source = known[f.id]
        name = next((s for s in (standard, *fluxstandards.STANDARDS)
                     if source in fluxstandards.STANDARDS[s]), None)
        if name is None:
            table.add_row(f.name, source, "-", "not in any standard")
            continue
        values = []
        for w in spws:
            centre = float(np.mean(w.freqs))
            try:
                flux = fluxstandards.stokes(name, source, np.array([centre]), year)[0]
            except InputError:
                values.append(f"SPW {w.id}: outside the standard's range")
                continue
            pol = fluxstandards.linear_polarisation(source, np.array([centre]))
            text = f"SPW {w.id} ({centre / 1e9:.3f} GHz): {flux[0]:.4f}"
            if pol is not None:
                text += f" (p {100 * pol[0][0]:.1f}%, {np.degrees(pol[1][0]):.0f} deg)"
            values.append(text)
        table.add_row(f.name, source, name, "\n".join(values))
    return table


def print_listobs(meta: MSMeta, sel: Selection = Selection(), console: Console | None = None,
                  standard: str = fluxstandards.DEFAULT_STANDARD) -> None:
    (console or Console()).print(render(meta, sel, standard))
