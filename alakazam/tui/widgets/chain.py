"""The Jones chain editor: the solve block's output and reference antenna, its steps in order,
and a form for the step under the cursor (fields, scans, SPWs, intervals, phase only, pre-apply
interpolation). New steps take the fields, scans and SPWs selected in the browser."""

from __future__ import annotations

from alakazam.tui.session import STEP_DEFAULTS
from alakazam.tui.widgets.editor import Edited, ListEditor

JONES_CHOICES = ("K", "G", "B", "D", "Xf", "Kcross")
INTERPS = ("exact", "nearest", "linear", "cubic")


class Chain(ListEditor):
    SECTION = "solve"
    COLUMNS = (("Jones", "jones"), ("Fields", "field"), ("Scans", "scans"), ("SPWs", "step_spw"),
               ("Time", "time_interval"), ("Freq", "freq_interval"),
               ("Phase only", "phase_only"), ("Pre-apply", "preapply_time_interp"))
    BLOCK_INPUTS = ("output", "ref_ant")
    CHOICES = {"jones": JONES_CHOICES, "preapply_time_interp": INTERPS}
    CHECKS = ("phase_only",)
    TEXT = ("field", "scans", "step_spw", "time_interval", "freq_interval")
    BINDINGS = [("k", "add('K')", "Add K"), ("g", "add('G')", "Add G"), ("b", "add('B')", "Add B"),
                *ListEditor.BINDINGS]

    def __init__(self, session, **kwargs):
        super().__init__(session, **kwargs)
        self.selection: tuple[list[str], list[tuple], list[int]] = ([], [], [])

    def select(self, fields: list[str], scans: list[tuple], spws: list[int]) -> None:
        """What new steps take: field names; (scan number, field names of the scan); SPW ids."""
        self.selection = (fields, scans, spws)

    def action_add(self, jones: str) -> None:
        fields, scans, spws = self.selection
        fields = fields or ["?"]
        per_field = [_id_spec([n for n, names in scans if f in names]) for f in fields]
        scan_spec = per_field[0] if len(set(per_field)) == 1 else per_field
        self.session.add_step(jones, fields, scan_spec, _id_spec(spws))
        self.refresh_entries(select=len(self.entries()) - 1)
        self.post_message(Edited())

    # ---- the session ---------------------------------------------------------------------
    def entries(self) -> list[dict]:
        return self.session.steps()

    def block_value(self, key: str):
        return self.session.block.get(key, "auto" if key == "ref_ant" else "cal.h5")

    def set_block_value(self, key: str, value) -> None:
        self.session.set(key, value)

    def set_value(self, index: int, key: str, value) -> None:
        self.session.set_step(index, key, value)

    def remove(self, index: int) -> None:
        self.session.remove_step(index)

    def move(self, index: int, offset: int) -> int:
        return self.session.move_step(index, offset)

    def display(self, key: str, value) -> str:
        if key == "phase_only":
            return "yes" if value else "no"
        if key == "scans" and isinstance(value, list) and any(
                isinstance(v, (str, type(None))) for v in value):
            return "; ".join("" if v is None else str(v) for v in value)  # one spec per field
        if key in STEP_DEFAULTS and value is None:
            return "all" if key in ("scans", "step_spw") else ""
        return super().display(key, value)

    def parse(self, key: str, text: str):
        if key == "field":
            return [v.strip() for v in text.split(",") if v.strip()]
        if key in ("scans", "step_spw") and text.strip().lower() in ("", "all"):
            return None
        if key == "scans" and ";" in text:
            return [super(Chain, self).parse(key, part) for part in text.split(";")]
        if key == "ref_ant" and "," in text:
            return [super(Chain, self).parse(key, part) for part in text.split(",")]
        return super().parse(key, text)


def _id_spec(ids: list[int]):
    """Scan or SPW numbers as the config writes them: None (all), 3, or "1,3,4"."""
    ids = sorted(ids)
    if len(ids) < 2:
        return ids[0] if ids else None
    return ",".join(map(str, ids))
