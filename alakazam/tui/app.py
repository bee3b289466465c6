"""`alakazam-tui [CONFIG.yaml | MS]` (no argument: pick an MS): browse an MS, build a Jones chain, run it in the
background, inspect the solutions. The engine runs in `alakazam run` subprocesses; the app only
edits the config (validated by the engine's own validator) and reads results."""

from __future__ import annotations

import os
import sys

from textual.app import App, ComposeResult
from textual.widgets import DirectoryTree, Footer, Header, Label, TabbedContent, TabPane

from alakazam.engine.errors import InputError
from alakazam.engine.msmeta import read_meta
from alakazam.tui.screens.help import HelpScreen
from alakazam.tui.session import Session
from alakazam.tui.widgets.browse import Browse
from alakazam.tui.widgets.chain import Chain
from alakazam.tui.widgets.editor import Edited, ListEditor
from alakazam.tui.widgets.fluxscale import Fluxscale
from alakazam.tui.widgets.inspect import Inspect
from alakazam.tui.widgets.runner import Runner, RunFinished, RunProgress
from alakazam.tui.widgets.tables import Apply, Tables

PANES = (("browse", "Browse"), ("chain", "Chain"), ("preapply", "Pre-apply"),
         ("fluxscale", "Fluxscale"), ("apply", "Apply"), ("run", "Run"), ("inspect", "Inspect"))


class AlakazamApp(App):
    TITLE = "ALAKAZAM"
    CSS_PATH = os.path.join(os.path.dirname(__file__), "app.tcss")
    BINDINGS = [*((str(i), f"pane('{name}')", title) for i, (name, title) in enumerate(PANES, 1)),
                ("ctrl+s", "save", "Save"), ("r", "run", "Run"), ("question_mark", "help", "Help"),
                ("q", "quit", "Quit")]

    def __init__(self, session: Session, config_path: str):
        super().__init__()
        self.session = session
        self.config_path = config_path
        ms = session.block.get("ms")
        if not isinstance(ms, str):
            raise InputError(f"{config_path}: solve[0].ms is missing")
        self.meta = read_meta(os.path.join(os.path.dirname(os.path.abspath(config_path)), ms))
        self.sub_title = config_path

    def compose(self) -> ComposeResult:
        yield Header()
        panes = {"browse": lambda: Browse(self.meta, id="browser"),
                 "chain": lambda: Chain(self.session, id="chain-editor"),
                 "preapply": lambda: Tables(self.session, "external", id="preapply-editor"),
                 "fluxscale": lambda: Fluxscale(self.session, id="fluxscale-editor"),
                 "apply": lambda: Apply(self.session, id="apply-editor"),
                 "run": lambda: Runner(id="runner"), "inspect": lambda: Inspect(id="inspector")}
        with TabbedContent(id="panes"):
            for i, (name, title) in enumerate(PANES, 1):
                with TabPane(f"{i} {title}", id=name):
                    yield panes[name]()
        yield Footer()

    _FOCUS = {"browse": "#fields-table", "run": "#run-log", "inspect": "#table-path"}

    def on_mount(self) -> None:
        self.action_pane("browse")
        self.validate()

    def action_pane(self, name: str) -> None:
        self.query_one("#panes", TabbedContent).active = name
        pane = self.query_one(f"#{name}", TabPane)
        if name == "inspect" and self.query_one(Inspect).table is not None:
            target = self.query_one("#sol-tree")
        elif name in self._FOCUS:
            target = self.query_one(self._FOCUS[name])
        else:
            target = pane.query_one(ListEditor).table
        self.call_after_refresh(target.focus)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def on_browse_selected(self, message: Browse.Selected) -> None:
        names = {s.number: {self.meta.fields[f].name for f in s.field_ids} for s in self.meta.scans}
        self.query_one(Chain).select(message.fields, [(n, names[n]) for n in message.scans],
                                     message.spws)
        scans = f"; scans {','.join(map(str, message.scans))}" if message.scans else ""
        spws = f"; SPWs {','.join(map(str, message.spws))}" if message.spws else ""
        self.notify(f"new steps take fields {', '.join(message.fields) or 'none'}{scans}{spws}",
                    timeout=3)

    def on_edited(self, message: Edited) -> None:
        self.validate()

    def validate(self) -> list:
        """Validate the session with the engine; show each problem in the pane it concerns."""
        problems = self.session.problems(self.meta)
        for editor in self.query(ListEditor):
            editor.show_problems(problems)
        return problems

    def action_save(self) -> bool:
        """Save the session YAML; refuse (and say why) while the config has problems."""
        problems = self.validate()
        if problems:
            pane = {"solve": "chain", "external": "preapply", "fluxscale": "fluxscale",
                    "apply": "apply"}[problems[0].section]
            self.notify(f"not saved: {len(problems)} problem(s), shown in the "
                        f"{dict(PANES)[pane]} pane", severity="error")
            self.action_pane(pane)
            return False
        self.session.save(self.config_path)
        self.notify(f"saved {self.config_path}")
        return True

    def action_run(self) -> None:
        if self.action_save():
            self.query_one(Runner).submit(self.config_path)
            self.action_pane("run")

    def on_run_progress(self, message: RunProgress) -> None:
        if message.live is not None:
            self.query_one(Inspect).add_live(message.live, os.path.basename(message.config))

    def on_run_finished(self, message: RunFinished) -> None:
        if message.returncode == 0 and message.outputs:
            self.query_one(Inspect).open(message.outputs[-1])
        self.notify(f"run of {os.path.basename(message.config)} "
                    f"{'finished' if message.returncode == 0 else 'stopped'}",
                    severity="information" if message.returncode == 0 else "warning")


def session_for(arg: str) -> tuple[Session, str]:
    """A session from a config path, or a new one for an MS, saved beside it as
    <ms>.alakazam.yaml with paths relative to it (the config moves with the data)."""
    if arg.endswith((".yaml", ".yml")):
        if not os.path.exists(arg):
            raise InputError(f"{arg}: no such file or directory")
        return Session.load(arg), arg
    ms = os.path.normpath(arg)
    read_meta(ms)  # a clear error now if it is not an MS
    config = f"{ms}.alakazam.yaml"
    return Session.for_ms(os.path.basename(ms), config), config


class MSPicker(App):
    """Choose a Measurement Set in a directory tree (Enter on an MS folder opens it)."""

    TITLE = "ALAKAZAM — open a Measurement Set"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("Enter on a Measurement Set folder opens it")
        tree = DirectoryTree(".", id="picker")
        tree.auto_expand = False  # an MS folder is opened, never listed (it holds many files)
        yield tree
        yield Footer()

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected):
        if os.path.exists(os.path.join(event.path, "table.dat")):
            self.call_after_refresh(self.exit, str(event.path))
        else:
            event.node.toggle()


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: alakazam-tui [CONFIG.yaml | MS]", file=sys.stderr)
        return 2
    target = args[0] if args else MSPicker().run()
    if not target:
        return 0
    try:
        session, config = session_for(target)
        app = AlakazamApp(session, config)
    except InputError as exc:
        print(f"alakazam-tui: error: {exc}", file=sys.stderr)
        return 2
    app.run()
    return 0
