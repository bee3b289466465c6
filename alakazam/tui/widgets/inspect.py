"""Inspecting solution files: a tree of Jones type / field / SPW and a terminal plot of the
chosen table (the same series as `alakazam plot`), flagged solutions as red x; a file written
by fluxscale also lists its transfer fields, each shown as the table of scale factors, derived
fluxes and QA of `alakazam fluxscale-info`. During a run the tables finished so far are shown
live, as they arrive from the engine."""

from __future__ import annotations

from textual.app import ComposeResult
from rich.console import Console, Group
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Static, Tree
from textual_plotext import PlotextPlot

from alakazam import plots
from alakazam.engine.errors import InputError
from alakazam.engine.fluxscale import FieldFlux, read_fluxscale
from alakazam.fluxinfo import field_table, qa_lines


class Inspect(Vertical):
    BINDINGS = [("m", "quantity", "Quantity"), ("t", "axis", "Time/freq")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table: plots.SolutionFile | None = None
        self.fluxes: list[FieldFlux] = []
        self.live = False
        self.current = None
        self.quantity = "phase"
        self.axis = "time"

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-open"):
            yield Label("table")
            yield Input(placeholder="path of a solution file, Enter to open", id="table-path",
                        compact=True)
        with Horizontal():
            yield Tree("solutions", id="sol-tree")
            yield PlotextPlot(id="sol-plot")
            with VerticalScroll(id="flux-view"):
                yield Static(id="flux-table")
        yield Label("", id="inspect-status")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "table-path":
            self.open(event.value)

    def open(self, path: str) -> None:
        """Show a complete solution file (the end of any live view)."""
        try:
            table = plots.load(path)
            fluxes = read_fluxscale(path)
        except (InputError, OSError) as exc:
            self.query_one("#inspect-status", Label).update(f"cannot open: {exc}")
            return
        self.query_one("#table-path", Input).value = path
        self.table, self.fluxes, self.live, self.current = table, fluxes, False, None
        self._rebuild()
        self.query_one("#sol-tree", Tree).focus()

    def add_live(self, finished: plots.SolutionFile, run: str) -> None:
        """Add a table the running engine has just finished (a live view of `run`)."""
        if not self.live or self.table is None:
            self.table = plots.SolutionFile(f"live: {run}", [], finished.antenna_names,
                                            finished.receptor_names)
            self.live, self.current, self.fluxes = True, None, []
        self.table.solutions.extend(finished.solutions)
        self._rebuild()

    def _rebuild(self) -> None:
        tree = self.query_one("#sol-tree", Tree)
        tree.clear()
        tree.root.expand()
        sols = sorted(self.table.solutions, key=lambda s: (s.jones_type, s.field_name, s.spw_id))
        by_type: dict = {}
        for sol in sols:
            if sol.jones_type not in by_type:
                by_type[sol.jones_type] = tree.root.add(sol.jones_type, expand=True)
            flagged = f" {100 * sol.flags.mean():.0f}% flagged" if sol.flags.any() else ""
            by_type[sol.jones_type].add_leaf(f"{sol.field_name} SPW {sol.spw_id}{flagged}",
                                             data=sol)
        if self.fluxes:
            node = tree.root.add("Flux scale", expand=True)
            for res in self.fluxes:
                node.add_leaf(f"{res.field} ({res.completeness:.0%} of SPWs)", data=res)
        what = "finished so far" if self.live else "tables"
        self.query_one("#inspect-status", Label).update(
            f"{self.table.path}: {len(sols)} {what}; m: quantity, t: time/freq")
        if sols and self.current is None:
            self.show(sols[0])

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if isinstance(event.node.data, FieldFlux):
            self.show_flux(event.node.data)
        elif event.node.data is not None:
            self.show(event.node.data)

    def show_flux(self, res: FieldFlux) -> None:
        """The flux determination of one transfer field, in place of the plot."""
        self.query_one("#sol-plot").display = False
        self.query_one("#flux-view").display = True
        view = Group(field_table(res, self.table.antenna_names), *qa_lines(res))
        static = self.query_one("#flux-table", Static)
        static.styles.width = Console(width=400).measure(view).maximum  # scrolls sideways
        static.update(view)

    def show(self, sol) -> None:
        self.query_one("#sol-plot").display = True
        self.query_one("#flux-view").display = False
        self.current = sol
        quantity = self.quantity
        if quantity == "delay" and not plots.has_delays(sol):
            quantity = "phase"
        curves = plots.series(sol, quantity, self.axis, range(sol.n_ant), (0, 1),
                              self.table.antenna_names, self.table.receptor_names)
        widget = self.query_one("#sol-plot", PlotextPlot)
        plots.draw(widget.plt, curves, f"{sol.jones_type} {sol.field_name} SPW {sol.spw_id}: "
                   f"{quantity}", self.axis, quantity)
        widget.refresh()
        self.curves = curves

    def action_quantity(self) -> None:
        order = ("phase", "amp", "delay")
        self.quantity = order[(order.index(self.quantity) + 1) % len(order)] \
            if self.quantity in order else "phase"
        if self.current is not None:
            self.show(self.current)

    def action_axis(self) -> None:
        self.axis = "freq" if self.axis == "time" else "time"
        if self.current is not None:
            self.show(self.current)
