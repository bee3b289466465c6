"""Inspecting solution files: a tree of Jones type / field / SPW and a terminal plot of the
chosen table (the same series as `alakazam plot`), flagged solutions as red x. During a run the
tables finished so far are shown live, as they arrive from the engine."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Tree
from textual_plotext import PlotextPlot

from alakazam import plots
from alakazam.engine.errors import InputError


class Inspect(Vertical):
    BINDINGS = [("m", "quantity", "Quantity"), ("t", "axis", "Time/freq")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table: plots.SolutionFile | None = None
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
        yield Label("", id="inspect-status")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "table-path":
            self.open(event.value)

    def open(self, path: str) -> None:
        """Show a complete solution file (the end of any live view)."""
        try:
            table = plots.load(path)
        except (InputError, OSError) as exc:
            self.query_one("#inspect-status", Label).update(f"cannot open: {exc}")
            return
        self.query_one("#table-path", Input).value = path
        self.table, self.live, self.current = table, False, None
        self._rebuild()
        self.query_one("#sol-tree", Tree).focus()

    def add_live(self, finished: plots.SolutionFile, run: str) -> None:
        """Add a table the running engine has just finished (a live view of `run`)."""
        if not self.live or self.table is None:
            self.table = plots.SolutionFile(f"live: {run}", [], finished.antenna_names,
                                            finished.receptor_names)
            self.live, self.current = True, None
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
        what = "finished so far" if self.live else "tables"
        self.query_one("#inspect-status", Label).update(
            f"{self.table.path}: {len(sols)} {what}; m: quantity, t: time/freq")
        if sols and self.current is None:
            self.show(sols[0])

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:
            self.show(event.node.data)

    def show(self, sol) -> None:
        self.current = sol
        quantity = self.quantity
        if quantity == "delay" and "delay" not in sol.native:
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
