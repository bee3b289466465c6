"""The help screen: every key of the app, by pane."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# ALAKAZAM — keys

**Anywhere**: `1` Browse · `2` Chain · `3` Pre-apply · `4` Fluxscale · `5` Apply · `6` Run ·
`7` Inspect ·
`ctrl+s` save the session YAML (refused while the engine finds problems) · `r` save and run
the session (queued after any running one) · `?` this help · `q` quit · `Tab` / `shift+Tab`
move between inputs

**Browse**: arrows move; `Enter` on a field, scan or SPW row selects it (✓) for new steps;
`shift+Tab` then `←`/`→` switch between the Fields, Scans, SPWs and Antennas tables

**Chain** (the solve steps, in order): `k` / `g` / `b` add a K / G / B step on the selection ·
`x` remove the step · `[` / `]` move it up / down · the form below edits the step under the
cursor: Jones type, pre-apply interpolation, phase only, fields (comma-separated), scans
(`1,3` or `3~5`; one spec per field separated by `;`; `all`), SPWs (`0~3`), time interval
(`inf`, `int`, `60s`, `5min`), frequency interval (`full`, `4MHz`, `32`)

**Pre-apply** (tables applied before step 1): `a` add a table · `x` remove · `[` / `]` move ·
the form: path, Jones type, field selection (nearest_time, nearest_sky, pinned), interpolation,
solution field (for pinned)

**Fluxscale** (one row per block): `a` adds a block referencing the chain's first G field and
transferring its other G fields into `<output>_scaled.h5` · `x` remove · `[` / `]` move · the
form: reference field and table, transfer fields (comma-separated) and table, output, outlier
threshold (`amp_outlier_sigma`). Catalogue fluxes are kept as written in the YAML.

**Apply**: target field and output column, then its tables as in Pre-apply; `c` fills the
tables from the solve chain (each step's table, in order)

Problems the engine's validator finds appear in red under the input they concern.

**Run**: `c` cancels the running process (its partial output is removed) and the queue.
Each solution table appears in Inspect as soon as the engine has solved it.

**Inspect**: type a solution file's path and `Enter` (the last run's output opens by itself);
choose a table in the tree; `m` cycles amplitude / phase / delay, `t` switches time / frequency.
Flagged solutions are red x. A file written by fluxscale has a "Flux scale" branch: each
transfer field shows its scale factors, derived fluxes, spectral index and QA (`Tab` to the
table, `←`/`→` to scroll it).

Press `Escape` to close.
"""


class HelpScreen(ModalScreen):
    BINDINGS = [("escape", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
