"""Inspecting solution files: a tree of Jones type / field / SPW and a terminal plot of the
chosen table (the same series as `alakazam plot`), flagged solutions as red x."""

from __future__ import annotations

import json

import h5py
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Tree
from textual_plotext import PlotextPlot

from alakazam import plots
from alakazam.engine.errors import InputError
from alakazam.engine.store import read_solutions


class Inspect(Vertical):
    BINDINGS = [("m", "quantity", "Quantity"), ("t", "axis", "Time/freq")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.solutions = []
        self.names: list[str] = []
        self.basis = "LINEAR"
        self.current = None
        self.quantity = "phase"
        self.axis = "time"

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-open"):
            yield Label("table")
            yield Input(placeholder="path of a solution file, Enter to open", id="table-path")
        with Horizontal():
            yield Tree("solutions", id="sol-tree")
            yield PlotextPlot(id="sol-plot")
        yield Label("", id="inspect-status")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "table-path":
            self.open(event.value)

    def open(self, path: str) -> None:
        status = self.query_one("#inspect-status", Label)
        try:
            self.solutions = read_solutions(path)
            with h5py.File(path, "r") as h5:
                self.names = json.loads(h5.attrs.get("antenna_names", "[]"))
                self.basis = str(h5.attrs.get("feed_basis", "LINEAR"))
        except (InputError, OSError) as exc:
            status.update(f"cannot open: {exc}")
            return
        self.query_one("#table-path", Input).value = path
        tree = self.query_one("#sol-tree", Tree)
        tree.clear()
        tree.root.expand()
        by_type: dict = {}
        for sol in sorted(self.solutions, key=lambda s: (s.jones_type, s.field_name, s.spw_id)):
            if sol.jones_type not in by_type:
                by_type[sol.jones_type] = tree.root.add(sol.jones_type, expand=True)
            node = by_type[sol.jones_type]
            label = f"{sol.field_name} SPW {sol.spw_id} ({100 * sol.flags.mean():.0f}% flagged)"
            node.add_leaf(label, data=sol)
        status.update(f"{path}: {len(self.solutions)} tables; m: quantity, t: time/freq")
        if self.solutions:
            self.show(sorted(self.solutions, key=lambda s: (s.jones_type, s.field_name,
                                                            s.spw_id))[0])

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        if event.node.data is not None:
            self.show(event.node.data)

    def show(self, sol) -> None:
        self.current = sol
        quantity = self.quantity
        if quantity == "delay" and "delay" not in sol.native:
            quantity = "phase"
        names = self.names or [str(a) for a in range(sol.n_ant)]
        receptors = ("X", "Y") if self.basis == "LINEAR" else ("R", "L")
        curves = plots.series(sol, quantity, self.axis, range(sol.n_ant), (0, 1), names,
                              receptors)
        widget = self.query_one("#sol-plot", PlotextPlot)
        plots.draw(widget.plt, curves, f"{sol.jones_type} {sol.field_name} SPW {sol.spw_id}: "
                   f"{quantity}", plots.axis_label(self.axis),
                   f"{quantity} {plots.UNITS[quantity]}".strip())
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
