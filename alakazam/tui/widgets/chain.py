"""The Jones chain editor: a table of steps, a form for the selected step, problems inline.

Every edit goes into the Session and is validated by the engine's config validator; each
problem is shown under the input it concerns (or under the table when it has no input).
"""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static

from alakazam.tui.session import Session

JONES_CHOICES = ("K", "G", "B", "D", "Xf", "Kcross")
INTERPS = ("exact", "nearest", "linear", "cubic")
_INPUTS = ("field", "time_interval", "freq_interval")


class Chain(Vertical):
    BINDINGS = [("k", "add('K')", "Add K"), ("g", "add('G')", "Add G"), ("b", "add('B')", "Add B"),
                ("x", "remove", "Remove step"), ("[", "move(-1)", "Up"), ("]", "move(1)", "Down")]

    def __init__(self, session: Session, **kwargs):
        super().__init__(**kwargs)
        self.session = session
        self.selected_fields: list[str] = []
        self._filling = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="block-row"):
            yield Label("output")
            yield Input(self.session.block.get("output", "cal.h5"), id="output")
            yield Label("ref_ant")
            yield Input(str(self.session.block.get("ref_ant", "auto")), id="ref_ant")
        yield DataTable(id="steps", cursor_type="row")
        yield Static("", id="err-block", classes="error")
        with Vertical(id="step-form"):
            with Horizontal():
                yield Label("jones")
                yield Select([(j, j) for j in JONES_CHOICES], id="jones", allow_blank=False,
                             value="G")
                yield Checkbox("phase_only", id="phase_only")
                yield Label("preapply interp")
                yield Select([(i, i) for i in INTERPS], id="preapply_time_interp",
                             allow_blank=False, value="linear")
            for key in _INPUTS:
                with Horizontal():
                    yield Label(key)
                    yield Input(id=key)
                yield Static("", id=f"err-{key}", classes="error")

    def on_mount(self) -> None:
        table = self.query_one("#steps", DataTable)
        table.add_columns("#", "Jones", "Fields", "Time", "Freq", "Phase only", "Pre-apply")
        self.refresh_steps()

    # ---- actions ---------------------------------------------------------------------------
    def action_add(self, jones: str) -> None:
        self.session.add_step(jones, self.selected_fields or ["?"])
        self.refresh_steps(select=len(self.session.steps()) - 1)

    def action_remove(self) -> None:
        index = self._current()
        if index is not None:
            self.session.remove_step(index)
            self.refresh_steps(select=max(0, index - 1))

    def action_move(self, offset: int) -> None:
        index = self._current()
        if index is not None:
            self.refresh_steps(select=self.session.move_step(index, offset))

    # ---- events ----------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._fill_form()

    def on_input_changed(self, event: Input.Changed) -> None:
        key, value = event.input.id, event.value
        if key in ("output", "ref_ant"):
            if self.session.block.get(key) != value:
                self.session.set(key, value)
                self.show_problems()
            return
        index = self._current()
        if index is None:
            return
        value = [v.strip() for v in value.split(",") if v.strip()] if key == "field" else \
            _scalar(value)
        current = self.session.steps()[index][key]
        if value == (current if key != "field" or isinstance(current, list) else [current]):
            return  # the form being filled, not an edit
        self.session.set_step(index, key, value)
        self.refresh_steps(select=self._current(), refill=False)

    def on_select_changed(self, event: Select.Changed) -> None:
        index = self._current()
        if not self._filling and index is not None:
            self.session.set_step(index, event.select.id, event.value)
            self.refresh_steps(select=index, refill=False)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        index = self._current()
        if not self._filling and index is not None:
            self.session.set_step(index, "phase_only", event.value)
            self.refresh_steps(select=index, refill=False)

    # ---- helpers -------------------------------------------------------------------------
    def _current(self) -> int | None:
        table = self.query_one("#steps", DataTable)
        return table.cursor_row if table.row_count else None

    def refresh_steps(self, select: int | None = None, refill: bool = True) -> None:
        table = self.query_one("#steps", DataTable)
        rows = []
        for i, s in enumerate(self.session.steps()):
            fields = s["field"] if isinstance(s["field"], list) else [s["field"]]
            rows.append((i, s["jones"], ", ".join(map(str, fields)), str(s["time_interval"]),
                         str(s["freq_interval"]), "yes" if s["phase_only"] else "no",
                         s["preapply_time_interp"]))
        if not refill and table.row_count == len(rows):
            # an edit of the current step: update in place, the cursor (and form) stay put
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.update_cell_at((r, c), value)
        else:
            table.clear()
            table.add_rows(rows)
        if select is not None and table.row_count:
            table.move_cursor(row=min(select, table.row_count - 1))
        if refill:
            self._fill_form()
        self.show_problems()

    def _fill_form(self) -> None:
        index = self._current()
        if index is None:
            return
        step = self.session.steps()[index]
        self._filling = True
        try:
            fields = step["field"] if isinstance(step["field"], list) else [step["field"]]
            self.query_one("#field", Input).value = ", ".join(map(str, fields))
            self.query_one("#time_interval", Input).value = str(step["time_interval"])
            self.query_one("#freq_interval", Input).value = str(step["freq_interval"])
            self.query_one("#phase_only", Checkbox).value = bool(step["phase_only"])
            if step["jones"] in JONES_CHOICES:
                self.query_one("#jones", Select).value = step["jones"]
            if step["preapply_time_interp"] in INTERPS:
                self.query_one("#preapply_time_interp", Select).value = step["preapply_time_interp"]
        finally:
            self.call_after_refresh(self._done_filling)

    def _done_filling(self) -> None:
        self._filling = False

    def show_problems(self) -> list:
        """Validate the session; show each problem beside its input. Returns the problems."""
        problems = self.session.problems()
        index = self._current()
        by_key: dict[str, list[str]] = {k: [] for k in _INPUTS}
        other = []
        for step, key, message in problems:
            if key in by_key and (step is None or step == index):
                by_key[key].append(message)
            else:
                other.append(f"{key}{'' if step is None else f'[{step}]'}: {message}" if key
                             else message)
        for key, messages in by_key.items():
            self.query_one(f"#err-{key}", Static).update("\n".join(messages))
        self.query_one("#err-block", Static).update("\n".join(other))
        return problems


def _scalar(text: str):
    """What YAML would make of a typed value: plain numbers become numbers, the rest text."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[0-9]*\.[0-9]+|[0-9]+\.[0-9]*", text):
        return float(text)
    return text
