"""The help screen: every key of the app, by pane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# ALAKAZAM — keys

**Anywhere**: `1` Browse · `2` Chain · `3` Run · `4` Inspect · `ctrl+s` save the session YAML ·
`r` run the session (queued after any running one) · `?` this help · `q` quit

**Browse**: arrows move, `Enter` on a field selects it for new steps (✓), tabs for scans,
SPWs, antennas (`←`/`→` on the tab bar)

**Chain**: `k` / `g` / `b` add a K / G / B step on the selected fields · `x` remove the step ·
`[` / `]` move it up / down · `Tab` to the form: fields (comma-separated), time interval
(`inf`, `60s`, `5min`), frequency interval (`full`, `4MHz`, `32`), phase only, pre-apply
interpolation. Problems found by the engine's validator appear under the input concerned.

**Run**: `c` cancels the running process (its partial output is removed) and the queue.

**Inspect**: type a solution file's path and `Enter` (the last run's output opens by itself);
choose a table in the tree; `m` cycles amplitude / phase / delay, `t` switches time / frequency.
Flagged solutions are red x.

Press `Escape` to close.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
