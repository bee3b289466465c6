"""The MS browser: fields (Enter toggles a field into the selection), scans, SPWs, antennas."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, TabbedContent, TabPane

from alakazam.engine.msmeta import MSMeta
from alakazam.listobs import dms, hms, utc


class Browse(Vertical):
    """Tables of one MS. Posts FieldsSelected when the selection changes."""

    class FieldsSelected(Message):
        def __init__(self, names: list[str]):
            super().__init__()
            self.names = names

    def __init__(self, meta: MSMeta, **kwargs):
        super().__init__(**kwargs)
        self.meta = meta
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        m = self.meta
        yield Label(f"{m.path}  {m.telescope}  {m.basis}  {len(m.antennas)} antennas  "
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
        scans.add_columns("Scan", "Start (UTC)", "End", "Fields", "Intents")
        scans.add_rows([(s.number, utc(s.start), utc(s.end, "%H:%M:%S"),
                         ",".join(m.fields[i].name for i in s.field_ids),
                         ", ".join(dict.fromkeys(i.split("#")[0] for i in s.intents)) or "-")
                        for s in m.scans])
        spws = self.query_one("#spws-table", DataTable)
        spws.add_columns("ID", "Channels", "First (MHz)", "Last (MHz)", "Width (kHz)")
        spws.add_rows([(w.id, w.n_chan, f"{w.freqs[0] / 1e6:.3f}", f"{w.freqs[-1] / 1e6:.3f}",
                        f"{w.widths[0] / 1e3:.1f}") for w in m.spws])
        ants = self.query_one("#antennas-table", DataTable)
        ants.add_columns("ID", "Name", "Station", "Diameter", "Data")
        ants.add_rows([(i, n, m.antennas.stations[i], f"{m.antennas.diameters[i]:g}",
                        "yes" if m.antennas.has_data[i] else "no data")
                       for i, n in enumerate(m.antennas.names)])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a field row toggles it in the selection used for new steps."""
        if event.data_table.id != "fields-table":
            return
        table = event.data_table
        name = str(table.get_row_at(event.cursor_row)[2])
        if name in self.selected:
            self.selected.remove(name)
        else:
            self.selected.append(name)
        table.update_cell(name, "sel", "✓" if name in self.selected else "")
        self.post_message(self.FieldsSelected(list(self.selected)))
