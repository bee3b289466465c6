"""The fluxscale blocks: each row one block (reference field and table, transfer fields and
table, the new output, the outlier threshold); `a` adds a block that references the chain's
first G field and transfers the others. Catalogue fluxes and per-field model fluxes are kept
as written in the YAML."""

from __future__ import annotations

from alakazam.tui.session import FLUX_KEYS
from alakazam.tui.widgets.editor import Edited, ListEditor


class Fluxscale(ListEditor):
    SECTION = "fluxscale"
    COLUMNS = (("Reference", "reference_field"), ("Transfer", "transfer_field"),
               ("From", "transfer_table"), ("Output", "output"))
    TEXT = FLUX_KEYS
    BINDINGS = [("a", "add", "Add block"), *ListEditor.BINDINGS]

    def action_add(self) -> None:
        self.session.add_flux_block()
        self.refresh_entries(select=len(self.entries()) - 1)
        self.post_message(Edited())

    def entries(self) -> list[dict]:
        return self.session.flux_entries()

    def set_value(self, index: int, key: str, value) -> None:
        self.session.set_flux(index, key, value)

    def remove(self, index: int) -> None:
        self.session.remove_flux_block(index)

    def move(self, index: int, offset: int) -> int:
        return self.session.move_flux_block(index, offset)

    def parse(self, key: str, text: str):
        if key == "transfer_field":
            return [v.strip() for v in text.split(",") if v.strip()]
        return super().parse(key, text)
