"""A list editor over one section of the session: a table of entries (solve steps, or pre-apply
or apply tables), a form for the entry under the cursor, inputs for the block's own keys, and
the engine's problems shown under the input they concern.

Subclasses say which keys are typed, chosen or ticked, and how entries are read and edited in
the Session; every edit posts Edited, on which the app validates the whole session and hands
the problems back through `show_problems`.
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static

from alakazam.tui.session import Problem, Session


class Edited(Message):
    """The session was changed by an editor."""


class ListEditor(Vertical):
    SECTION = "solve"
    COLUMNS: tuple[tuple[str, str], ...] = ()  # (header, key) of the table
    BLOCK_INPUTS: tuple[str, ...] = ()  # keys of the block itself
    TEXT: tuple[str, ...] = ()  # per-entry keys typed in an Input
    CHOICES: dict[str, tuple[str, ...]] = {}  # per-entry keys chosen in a Select
    CHECKS: tuple[str, ...] = ()  # per-entry booleans
    BINDINGS = [("x", "remove", "Remove"), ("[", "move(-1)", "Up"), ("]", "move(1)", "Down")]

    def __init__(self, session: Session, **kwargs):
        super().__init__(**kwargs)
        self.session = session
        self._filling = False

    # ---- what subclasses provide -------------------------------------------------------
    def entries(self) -> list[dict]:
        raise NotImplementedError

    def block_value(self, key: str):
        raise NotImplementedError

    def set_block_value(self, key: str, value) -> None:
        raise NotImplementedError

    def set_value(self, index: int, key: str, value) -> None:
        raise NotImplementedError

    def remove(self, index: int) -> None:
        raise NotImplementedError

    def move(self, index: int, offset: int) -> int:
        raise NotImplementedError

    def display(self, key: str, value) -> str:
        """The text shown for an entry's value (table cell and form input)."""
        if isinstance(value, list):
            return ", ".join(map(str, value))
        return "" if value is None else str(value)

    def parse(self, key: str, text: str):
        """The config value for what was typed into an entry's input."""
        return _scalar(text)

    # ---- layout --------------------------------------------------------------------------
    def wid(self, key: str) -> str:
        """The id of a key's input (unique in the app: solve keys bare, others prefixed)."""
        return key if self.SECTION == "solve" else f"{self.SECTION}-{key}"

    def compose(self) -> ComposeResult:
        if self.BLOCK_INPUTS:
            with Horizontal(classes="block-row"):
                for key in self.BLOCK_INPUTS:
                    yield Label(key)
                    yield Input(self.display(key, self.block_value(key)), id=self.wid(key),
                                compact=True)
            for key in self.BLOCK_INPUTS:
                yield Static("", id=f"err-{self.wid(key)}", classes="error")
        yield DataTable(id=self.wid("entries"), cursor_type="row", classes="entries")
        yield Static("", id=f"err-{self.wid('block')}", classes="error")
        with Vertical(classes="form"):
            with Horizontal():
                for key, options in self.CHOICES.items():
                    yield Label(key)
                    yield Select([(o, o) for o in options], id=self.wid(key), allow_blank=False,
                                 value=options[0], compact=True)
                for key in self.CHECKS:
                    yield Checkbox(key, id=self.wid(key), compact=True)
            for key in (*self.CHOICES, *self.CHECKS):
                yield Static("", id=f"err-{self.wid(key)}", classes="error")
            for key in self.TEXT:
                with Horizontal(classes="text-row"):
                    yield Label(key)
                    yield Input(id=self.wid(key), compact=True)
                yield Static("", id=f"err-{self.wid(key)}", classes="error")

    def on_mount(self) -> None:
        self.table.add_columns("#", *(header for header, _ in self.COLUMNS))
        self.refresh_entries()

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.wid('entries')}", DataTable)

    def focus_table(self) -> None:
        self.table.focus()

    # ---- actions -------------------------------------------------------------------------
    def action_remove(self) -> None:
        index = self.current()
        if index is not None:
            self.remove(index)
            self.refresh_entries(select=max(0, index - 1))
            self.post_message(Edited())

    def action_move(self, offset: int) -> None:
        index = self.current()
        if index is not None:
            self.refresh_entries(select=self.move(index, offset))
            self.post_message(Edited())

    # ---- events --------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.fill_form()

    def _key(self, widget) -> str:
        prefix = "" if self.SECTION == "solve" else f"{self.SECTION}-"
        return widget.id[len(prefix):]

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        key = self._key(event.input)
        if key in self.BLOCK_INPUTS:
            value = self.parse(key, event.value)
            if self.block_value(key) != value:
                self.set_block_value(key, value)
                self.post_message(Edited())
            return
        index = self.current()
        if self._filling or index is None:
            return
        value = self.parse(key, event.value)
        if self.display(key, value) == self.display(key, self.entries()[index][key]):
            return  # the form being filled, not an edit
        self.set_value(index, key, value)
        self.refresh_entries(select=index, refill=False)
        self.post_message(Edited())

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed(self._key(event.select), event.value)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed(self._key(event.checkbox), event.value)

    def _changed(self, key: str, value) -> None:
        index = self.current()
        if not self._filling and index is not None and self.entries()[index][key] != value:
            self.set_value(index, key, value)
            self.refresh_entries(select=index, refill=False)
            self.post_message(Edited())

    # ---- helpers -------------------------------------------------------------------------
    def current(self) -> int | None:
        table = self.table
        return table.cursor_row if table.row_count else None

    def refresh_entries(self, select: int | None = None, refill: bool = True) -> None:
        table = self.table
        rows = [(i, *(self.display(key, entry[key]) for _, key in self.COLUMNS))
                for i, entry in enumerate(self.entries())]
        if not refill and table.row_count == len(rows):
            # an edit of the current entry: update in place, the cursor (and form) stay put
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.update_cell_at((r, c), value)
        else:
            table.clear()
            table.add_rows(rows)
        if select is not None and table.row_count:
            table.move_cursor(row=min(select, table.row_count - 1))
        if refill:
            self.fill_form()

    def fill_form(self) -> None:
        index = self.current()
        if index is None:
            return
        entry = self.entries()[index]
        self._filling = True
        try:
            for key in self.TEXT:
                self.query_one(f"#{self.wid(key)}", Input).value = self.display(key, entry[key])
            for key in self.CHECKS:
                self.query_one(f"#{self.wid(key)}", Checkbox).value = bool(entry[key])
            for key, options in self.CHOICES.items():
                if entry[key] in options:
                    self.query_one(f"#{self.wid(key)}", Select).value = entry[key]
        finally:
            self.call_after_refresh(self._done_filling)

    def _done_filling(self) -> None:
        self._filling = False

    def show_problems(self, problems: list[Problem]) -> None:
        """Each problem of this section beside its input: entry problems when they concern
        the entry in the form, block problems always; the rest under the table."""
        index = self.current()
        keys = (*self.BLOCK_INPUTS, *self.TEXT, *self.CHOICES, *self.CHECKS)
        placed: dict[str, list[str]] = {k: [] for k in keys}
        other = []
        for p in problems:
            if p.section != self.SECTION:
                continue
            if p.key in self.BLOCK_INPUTS:
                placed[p.key].append(f"{p.key}: {p.message}")  # under the row of block inputs
            elif p.key in placed and p.index in (None, index):
                placed[p.key].append(p.message)
            else:
                where = f"{p.key}[{p.index}]" if p.index is not None else p.key
                other.append(f"{where}: {p.message}" if where else p.message)
        placed["block"] = other
        for key, messages in placed.items():
            static = self.query_one(f"#err-{self.wid(key)}", Static)
            static.update("\n".join(messages))
            static.display = bool(messages)


def _scalar(text: str):
    """What YAML would make of a typed value: plain numbers become numbers, nothing None,
    the rest text."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[0-9]*\.[0-9]+|[0-9]+\.[0-9]*", text):
        return float(text)
    return text
