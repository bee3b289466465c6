"""`alakazam info TABLE`: a rich summary of a solution file (ALAKAZAM HDF5, a CASA caltable
or an H5Parm)."""

from __future__ import annotations

import json

import numpy as np
from rich.console import Console, Group
from rich.table import Table

from alakazam.engine.solvers import REASONS
from alakazam.engine.msmeta import utc
from alakazam.engine.store import file_attrs, read_solutions


def render(path: str) -> Group:
    sols = read_solutions(path)
    root = file_attrs(path)
    header = Table.grid(padding=(0, 2))
    header.add_row("[b]File[/b]", path)
    for key in ("format", "ms", "alakazam_version", "format_version", "created_utc",
                "feed_basis"):
        if key in root:
            header.add_row(f"[b]{key}[/b]", str(root[key]))
    names = json.loads(root.get("antenna_names", "[]"))

    table = Table(title="Solutions", title_justify="left")
    for col in ("Type", "Field", "SPW", "n_t x n_f x n_ant", "Time range (UTC)", "Interval",
                "Flagged", "Median SNR", "Ref ants"):
        table.add_column(col, overflow="fold")
    reasons = Table(title="Flagged solutions by reason (antenna: count)", title_justify="left")
    for col in ("Type", "Field", "SPW", "Reason", "Antennas"):
        reasons.add_column(col, overflow="fold")
    chains = Table(title="Pre-applied before each solve", title_justify="left")
    for col in ("Type", "Field", "SPW", "Chain"):
        chains.add_column(col, overflow="fold")
    for s in sols:
        good = ~s.flags
        snr = s.snr[good] if good.any() else np.zeros(1)
        refs = sorted({int(r) for r in np.unique(s.ref_ant_used) if r >= 0})
        table.add_row(s.jones_type, s.field_name, str(s.spw_id),
                      " x ".join(map(str, s.jones.shape[:3])),
                      f"{utc(s.time_bounds[0, 0])} - {utc(s.time_bounds[-1, 1], '%H:%M:%S')}",
                      f"{s.attrs.get('time_interval', '?')} / {s.attrs.get('freq_interval', '?')}",
                      f"{100 * s.flags.mean():.1f}%", f"{np.median(snr):.1f}",
                      ", ".join(names[r] if r < len(names) else str(r) for r in refs))
        per_ant = s.reason.reshape(-1, s.n_ant)
        for code in sorted(set(np.unique(per_ant)) - {0}):
            counts = (per_ant == code).sum(axis=0)
            ants = ", ".join(f"{names[a] if a < len(names) else a}: {counts[a]}"
                             for a in np.flatnonzero(counts))
            reasons.add_row(s.jones_type, s.field_name, str(s.spw_id),
                            REASONS.get(int(code), str(code)), ants)
        chain = json.loads(s.attrs.get("preapply_chain", "[]"))
        text = " -> ".join(f"{c['jones']} ({c['source']}"
                           + (f" step {c['step']}" if "step" in c else f" {c.get('table')}")
                           + f", {c['field_select']}, {c['time_interp']})" for c in chain)
        chains.add_row(s.jones_type, s.field_name, str(s.spw_id), text or "nothing")
    return Group(header, table, reasons, chains)


def print_info(path: str, console: Console | None = None) -> None:
    (console or Console()).print(render(path))
