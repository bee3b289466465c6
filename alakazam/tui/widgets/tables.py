"""Editors of solution tables applied in order: the solve block's external pre-apply tables,
and the apply block (target field, output column, and its chain of tables), each table with
its Jones type, field selection, interpolation and pinned solution field."""

from __future__ import annotations

from alakazam.engine.config import FIELD_SELECTS, TIME_INTERPS
from alakazam.tui.widgets.chain import JONES_CHOICES
from alakazam.tui.widgets.editor import Edited, ListEditor


class Tables(ListEditor):
    """The tables of one section ("external" or "apply"); `a` adds a table (the solve block's
    output, or the path typed in the form afterwards)."""

    COLUMNS = (("Table", "tables"), ("Jones", "jones"), ("Field select", "field_select"),
               ("Interp", "time_interp"), ("Solution field", "solution_field"))
    CHOICES = {"jones": JONES_CHOICES, "field_select": FIELD_SELECTS, "time_interp": TIME_INTERPS}
    TEXT = ("tables", "solution_field")
    BINDINGS = [("a", "add", "Add table"), *ListEditor.BINDINGS]

    def __init__(self, session, section: str, **kwargs):
        self.SECTION = section
        super().__init__(session, **kwargs)

    def action_add(self) -> None:
        self.session.add_term(self.SECTION, self.session.block.get("output", ""), "G")
        self.refresh_entries(select=len(self.entries()) - 1)
        self.post_message(Edited())

    def entries(self) -> list[dict]:
        return self.session.terms(self.SECTION)

    def set_value(self, index: int, key: str, value) -> None:
        self.session.set_term(self.SECTION, index, key, value)

    def remove(self, index: int) -> None:
        self.session.remove_term(self.SECTION, index)

    def move(self, index: int, offset: int) -> int:
        return self.session.move_term(self.SECTION, index, offset)


class Apply(Tables):
    """The first apply block: `c` fills it from the solve chain (every step's table, in order)
    for the target field typed above."""

    BLOCK_INPUTS = ("target_field", "output_col")
    BINDINGS = [("c", "from_chain", "From chain"), *Tables.BINDINGS]

    def __init__(self, session, **kwargs):
        super().__init__(session, "apply", **kwargs)

    def block_value(self, key: str):
        block = self.session.terms_block("apply") or {}
        return block.get(key, "CORRECTED_DATA" if key == "output_col" else None)

    def set_block_value(self, key: str, value) -> None:
        self.session.set_apply(key, value)

    def action_from_chain(self) -> None:
        self.session.apply_from_chain(self.block_value("target_field") or "")
        self.refresh_entries(select=0)
        self.post_message(Edited())
