"""Runs `alakazam run CONFIG --progress json` in a background process: a queue of configs,
a progress bar, a log, cancellation (SIGINT: the engine removes its partial output).

The reading of the process's output is an async worker on the App's event loop; nothing
blocks the UI. Events reach the rest of the app as RunProgress / RunFinished messages. Each
finished solution table arrives as a file of its own in a temporary live directory (read in a
thread, carried by RunProgress.live, the directory removed when the run ends).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import sys
import tempfile

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, ProgressBar, RichLog

from alakazam import plots


class RunProgress(Message):
    """One event of the run; live: the solution table it finished (or None)."""

    def __init__(self, config: str, event: dict, live: plots.SolutionFile | None = None):
        super().__init__()
        self.config = config
        self.event = event
        self.live = live


class RunFinished(Message):
    def __init__(self, config: str, returncode: int, outputs: list[str]):
        super().__init__()
        self.config = config
        self.returncode = returncode
        self.outputs = outputs


class Runner(Vertical):
    BINDINGS = [("c", "cancel", "Cancel run")]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.queue: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Label("idle", id="run-status")
        yield ProgressBar(id="run-progress", total=None, show_eta=False)
        yield RichLog(id="run-log", wrap=True, markup=False)

    def submit(self, config: str) -> None:
        """Queue a config; it starts when the runs before it have finished."""
        self.queue.append(config)
        self.query_one("#run-log", RichLog).write(f"queued {config}")
        if not self.busy:
            self._next()

    def _next(self) -> None:
        if self.queue:
            self.busy = True
            self._run(self.queue.pop(0))
        else:
            self.busy = False

    @work(exclusive=False, group="runs")
    async def _run(self, config: str) -> None:
        log = self.query_one("#run-log", RichLog)
        bar = self.query_one("#run-progress", ProgressBar)
        status = self.query_one("#run-status", Label)
        status.update(f"running {config}")
        live_dir = tempfile.mkdtemp(prefix="alakazam-live-")
        try:
            code, outputs = await self._follow(config, live_dir, log, bar, status)
        finally:
            shutil.rmtree(live_dir, ignore_errors=True)
        status.update(f"finished {config} (exit {code})" if code == 0 else
                      f"stopped {config} (exit {code})")
        self.process = None
        self.post_message(RunFinished(config, code, outputs))
        self._next()

    async def _follow(self, config, live_dir, log, bar, status) -> tuple[int, list[str]]:
        """Start the engine and stream its events until it exits; (exit code, tables written)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alakazam", "run", config, "--progress", "json",
            "--live-dir", live_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        outputs = []
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                log.write(raw.decode(errors="replace").rstrip())
                continue
            if event.get("event") == "progress":
                bar.update(total=event["total"], progress=event["done"])
                status.update(f"{event['block']}: {event['label']} ({event['done']}/{event['total']})")
            elif "message" in event:
                log.write(event["message"])
            if event.get("table"):
                outputs.append(event["table"])
            live = await asyncio.to_thread(plots.load, event["live"]) if "live" in event else None
            self.post_message(RunProgress(config, event, live))
        stderr = (await self.process.stderr.read()).decode(errors="replace").strip()
        code = await self.process.wait()
        if stderr:
            log.write(stderr)
        return code, outputs

    def action_cancel(self) -> None:
        """Interrupt the running process (and drop the queue)."""
        self.queue.clear()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            self.query_one("#run-log", RichLog).write("cancelling...")
