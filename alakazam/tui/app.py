"""`alakazam-tui [MS]`: the terminal application. For now it browses a Measurement Set:
fields, scans with intents, SPWs and antennas, one tab each."""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import MSMeta, read_meta
from alakazam.listobs import dms, hms, utc


class MSBrowser(App):
    """Tabs of DataTables over one MS's metadata."""

    TITLE = "ALAKAZAM"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, meta: MSMeta):
        super().__init__()
        self.meta = meta
        self.sub_title = meta.path

    def compose(self) -> ComposeResult:
        m = self.meta
        yield Header()
        yield Static(f"{m.telescope}  {m.basis}  {len(m.antennas)} antennas  {m.n_rows} rows  "
                     f"integration {m.integration_time:g} s", id="summary")
        with TabbedContent():
            with TabPane("Fields", id="fields"):
                yield DataTable(id="fields-table")
            with TabPane("Scans", id="scans"):
                yield DataTable(id="scans-table")
            with TabPane("SPWs", id="spws"):
                yield DataTable(id="spws-table")
            with TabPane("Antennas", id="antennas"):
                yield DataTable(id="antennas-table")
        yield Footer()

    def on_mount(self) -> None:
        m = self.meta
        fields = self.query_one("#fields-table", DataTable)
        fields.add_columns("ID", "Name", "RA", "Dec", "Rows")
        fields.add_rows([(f.id, f.name, hms(f.ra), dms(f.dec), f.n_rows) for f in m.fields])
        scans = self.query_one("#scans-table", DataTable)
        scans.add_columns("Scan", "Start (UTC)", "End", "Fields", "Intents")
        scans.add_rows([(s.number, utc(s.start), utc(s.end, "%H:%M:%S"),
                         ",".join(m.fields[i].name for i in s.field_ids),
                         ", ".join(s.intents) or "-") for s in m.scans])
        spws = self.query_one("#spws-table", DataTable)
        spws.add_columns("ID", "Channels", "First (MHz)", "Last (MHz)")
        spws.add_rows([(w.id, w.n_chan, f"{w.freqs[0] / 1e6:.3f}", f"{w.freqs[-1] / 1e6:.3f}")
                       for w in m.spws])
        ants = self.query_one("#antennas-table", DataTable)
        ants.add_columns("ID", "Name", "Station", "Data")
        ants.add_rows([(i, n, m.antennas.stations[i], "yes" if m.antennas.has_data[i] else "no")
                       for i, n in enumerate(m.antennas.names)])


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: alakazam-tui MS", file=sys.stderr)
        return 2
    try:
        meta = read_meta(args[0])
    except InputError as exc:
        print(f"alakazam-tui: error: {exc}", file=sys.stderr)
        return 2
    MSBrowser(meta).run()
    return 0
