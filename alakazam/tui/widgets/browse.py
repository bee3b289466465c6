"""The MS browser: tables of fields, scans, SPWs and antennas; Enter on a field, scan or SPW
row toggles it into the selection that new solve steps take."""

from __future__ import annotations

import os

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, TabbedContent, TabPane

from alakazam.engine.msmeta import MSMeta
from alakazam.engine.msmeta import utc
from alakazam.listobs import dms, hms


class Browse(Vertical):
    """Tables of one MS. Posts Selected when the selection changes."""

    class Selected(Message):
        """fields: names; scans: numbers; spws: ids (each in the order chosen)."""

        def __init__(self, fields: list[str], scans: list[int], spws: list[int]):
            super().__init__()
            self.fields, self.scans, self.spws = fields, scans, spws

    def __init__(self, meta: MSMeta, **kwargs):
        super().__init__(**kwargs)
        self.meta = meta
        self.chosen: dict[str, list] = {"fields-table": [], "scans-table": [], "spws-table": []}

    def compose(self) -> ComposeResult:
        m = self.meta
        where = os.path.relpath(m.path)
        where = m.path if where.startswith("..") else where  # short when below the cwd
        yield Label(f"{where}  {m.telescope}  {m.basis}  {len(m.antennas)} antennas  "
                    f"{m.n_rows} rows", id="ms-summary")
        with TabbedContent(id="browse-tabs"):
            with TabPane("Fields", id="fields"):
                yield DataTable(id="fields-table", cursor_type="row")
            with TabPane("Scans", id="scans"):
                yield DataTable(id="scans-table", cursor_type="row")
            with TabPane("SPWs", id="spws"):
                yield DataTable(id="spws-table", cursor_type="row")
            with TabPane("Antennas", id="antennas"):
                yield DataTable(id="antennas-table", cursor_type="row")

    def on_mount(self) -> None:
        m = self.meta
        intents = {f.id: set() for f in m.fields}
        for s in m.scans:
            for fid in s.field_ids:
                intents.setdefault(fid, set()).update(i.split("#")[0] for i in s.intents)
        fields = self.query_one("#fields-table", DataTable)
        fields.add_column("sel", key="sel")
        fields.add_columns("ID", "Name", "RA", "Dec", "Intents", "Rows")
        for f in m.fields:
            fields.add_row("", f.id, f.name, hms(f.ra), dms(f.dec),
                           ", ".join(sorted(intents.get(f.id, ()))) or "-", f.n_rows, key=f.name)
        scans = self.query_one("#scans-table", DataTable)
        scans.add_column("sel", key="sel")
        scans.add_columns("Scan", "Start (UTC)", "End", "Fields", "Intents")
        for s in m.scans:
            scans.add_row("", s.number, utc(s.start), utc(s.end, "%H:%M:%S"),
                          ",".join(m.fields[i].name for i in s.field_ids),
                          ", ".join(dict.fromkeys(i.split("#")[0] for i in s.intents)) or "-",
                          key=str(s.number))
        spws = self.query_one("#spws-table", DataTable)
        spws.add_column("sel", key="sel")
        spws.add_columns("ID", "Channels", "First (MHz)", "Last (MHz)", "Width (kHz)")
        for w in m.spws:
            spws.add_row("", w.id, w.n_chan, f"{w.freqs[0] / 1e6:.3f}",
                         f"{w.freqs[-1] / 1e6:.3f}", f"{w.widths[0] / 1e3:.1f}", key=str(w.id))
        ants = self.query_one("#antennas-table", DataTable)
        ants.add_columns("ID", "Name", "Station", "Diameter", "Data")
        ants.add_rows([(i, n, m.antennas.stations[i], f"{m.antennas.diameters[i]:g}",
                        "yes" if m.antennas.has_data[i] else "no data")
                       for i, n in enumerate(m.antennas.names)])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a field, scan or SPW row toggles it in the selection for new steps."""
        table = event.data_table
        chosen = self.chosen.get(table.id)
        if chosen is None:
            return
        row = table.get_row_at(event.cursor_row)
        item = str(row[2]) if table.id == "fields-table" else int(row[1])
        if item in chosen:
            chosen.remove(item)
        else:
            chosen.append(item)
        table.update_cell(event.row_key, "sel", "✓" if item in chosen else "")
        self.post_message(self.Selected(*(list(v) for v in self.chosen.values())))
