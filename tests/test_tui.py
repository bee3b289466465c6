"""The Textual app driven by the Pilot against a simulated MS: browse, build a chain, save,
run in the background, inspect; inline errors; cancelling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from casacore import tables
from textual.widgets import DataTable, Input, ProgressBar, Tree

from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.tui.app import AlakazamApp, main, session_for
from alakazam.tui.session import Session


@pytest.fixture
def tui_ms(tmp_path):
    path = str(tmp_path / "tui.ms")
    simulate(path, SimOptions(terms=("K", "G"), snr=100.0, n_ant=5, n_spw=1, duration=600))
    return path


async def build_chain(app, pilot):
    """Select 3C286 in the browser, then add K (inf) and G (60 s) steps."""
    await pilot.pause()
    await pilot.press("enter")  # cursor on the first field, 3C286
    await pilot.press("2")
    await pilot.pause()
    await pilot.press("k", "g")
    await pilot.pause()
    box = app.query_one("#time_interval", Input)
    box.value = "60s"
    await pilot.pause()


async def wait_for(pilot, condition, timeout=120.0):
    waited = 0.0
    while not condition() and waited < timeout:
        await pilot.pause(0.2)
        waited += 0.2
    assert condition()


class WatchedApp(AlakazamApp):
    """The app, recording what the Inspect pane holds after each live table arrives."""

    def __init__(self, *args):
        super().__init__(*args)
        self.seen, self.live_tables = [], []

    def on_run_progress(self, message) -> None:  # runs before AlakazamApp's own handler
        if message.live is not None:
            self.live_tables += message.live.solutions
            inspector = self.query_one("#inspector")
            self.call_later(lambda: self.seen.append(
                (inspector.live, inspector.current is not None, len(inspector.table.solutions))))


def test_browse_build_save_run_inspect(tui_ms, tmp_path):
    async def drive():
        session, config = session_for(tui_ms)
        app = WatchedApp(session, config)
        seen, live_tables = app.seen, app.live_tables
        async with app.run_test(size=(120, 40)) as pilot:
            fields = app.query_one("#fields-table", DataTable)
            assert fields.row_count == 3 and "OBSERVE_TARGET" in str(fields.get_row_at(2)[5])
            await build_chain(app, pilot)
            steps = app.query_one("#entries", DataTable)
            assert steps.row_count == 2 and steps.get_row_at(1)[5] == "60s"
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert os.path.exists(config)
            await pilot.press("r")
            inspector = app.query_one("#inspector")
            await wait_for(pilot, lambda: not app.query_one("#runner").busy)
            await wait_for(pilot, lambda: not inspector.live and inspector.current is not None)
            # live inspection: each table was shown as soon as the engine finished it
            assert seen == [(True, True, 1), (True, True, 2)]
            final = {(s.jones_type, s.spw_id): s for s in inspector.table.solutions}
            for table in live_tables:
                np.testing.assert_array_equal(table.jones, final[table.jones_type, table.spw_id].jones)
            bar = app.query_one("#run-progress", ProgressBar)
            assert bar.total and bar.progress == bar.total
            tree = app.query_one(Tree)
            assert {n.label.plain for n in tree.root.children} == {"G", "K"}
            assert inspector.curves
            await pilot.press("7", "m")  # cycle the quantity on the shown table
            await pilot.pause()
        return config

    config = asyncio.run(drive())
    saved = yaml.safe_load(open(config))
    assert saved["solve"][0]["jones"] == ["K", "G"]
    assert saved["solve"][0]["field"] == [["3C286"], ["3C286"]]
    folder = os.path.dirname(config)
    assert saved["solve"][0]["ms"] == "tui.ms"  # relative to the config beside the MS
    assert os.path.exists(os.path.join(folder, saved["solve"][0]["output"]))
    # the saved YAML is what `alakazam run` accepts
    result = subprocess.run([sys.executable, "-m", "alakazam", "run", config, "--dry-run"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_config_error_shown_inline(tui_ms):
    async def drive():
        session, config = session_for(tui_ms)
        app = AlakazamApp(session, config)
        async with app.run_test(size=(80, 24)) as pilot:
            await build_chain(app, pilot)
            app.query_one("#time_interval", Input).value = "5mni"
            await pilot.pause()
            error = str(app.query_one("#err-time_interval").render())
            assert "'5mni' is not a time interval" in error
            await pilot.press("ctrl+s")  # refused while there are problems
            await pilot.pause()
            assert not os.path.exists(config)

    asyncio.run(drive())


def test_cancelling_a_run_leaves_no_output(tmp_path):
    """Cancelled after its first solution table (of 16): the engine's partial output goes."""
    path = str(tmp_path / "big.ms")
    simulate(path, SimOptions(terms=("K", "G"), n_ant=16, n_spw=8, n_chan=64, duration=1800))

    async def drive():
        session, config = session_for(path)
        app = AlakazamApp(session, config)
        async with app.run_test(size=(120, 40)) as pilot:
            await build_chain(app, pilot)
            app.query_one("#time_interval", Input).value = "int"
            app.query_one("#field", Input).value = "3C286, J1407+2827"
            await pilot.pause()
            await pilot.press("r")
            runner = app.query_one("#runner")
            status = app.query_one("#run-status")
            await wait_for(pilot, lambda: "solve[0]" in str(status.render()), timeout=60)
            await pilot.press("6", "c")
            await wait_for(pilot, lambda: not runner.busy, timeout=60)
            log = "\n".join(line.text for line in app.query_one("#run-log").lines)
            assert "cancelling" in log and "wrote" not in log
        return os.path.join(str(tmp_path), session.block["output"])

    output = asyncio.run(drive())
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(os.path.basename(output))]
    assert leftovers == []


def test_scans_preapply_and_apply_editors(tui_ms):
    """By keyboard: a scan chosen in the browser goes into the new step; a field typo and a
    missing pre-apply table are shown beside their inputs; the apply block is filled from the
    chain; the saved YAML runs the solve and the apply (CORRECTED_DATA written)."""
    async def drive():
        session, config = session_for(tui_ms)
        app = AlakazamApp(session, config)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("enter", "shift+tab", "right", "tab")  # 3C286; the Scans tab
            await pilot.pause()
            assert app.focused.id == "scans-table"
            await pilot.press("enter", "2", "g")  # scan 1 (3C286), then a G step
            await pilot.pause()
            step = app.session.steps()[0]
            assert step["field"] == ["3C286"] and step["scans"] == 1
            app.query_one("#field", Input).value = "NGC9"
            await pilot.pause()
            assert "NGC9" in str(app.query_one("#err-field").render())
            app.query_one("#field", Input).value = "3C286"
            await pilot.pause()
            assert not app.query_one("#err-field").display
            await pilot.press("3", "a")  # pre-apply the block's own output: not there yet
            await pilot.pause()
            assert "no such file" in str(app.query_one("#err-external-tables").render())
            await pilot.press("x")
            await pilot.pause()
            assert "external_preapply" not in app.session.block
            await pilot.press("5")
            app.query_one("#apply-target_field", Input).value = "TARGET"
            await pilot.pause()
            await pilot.press("c", "ctrl+s")
            await pilot.pause()
            assert os.path.exists(config)
            await pilot.press("r")
            await pilot.pause()
            await wait_for(pilot, lambda: not app.query_one("#runner").busy)
            assert "exit 0" in str(app.query_one("#run-status").render())
        return config

    config = asyncio.run(drive())
    saved = yaml.safe_load(open(config))
    assert saved["solve"][0]["scans"] == [1]
    assert saved["apply"] == [{"ms": "tui.ms", "target_field": "TARGET",
                               "output_col": "CORRECTED_DATA", "jones": ["G"],
                               "tables": ["cal.h5"]}]
    with tables.table(tui_ms, ack=False) as tab:
        assert "CORRECTED_DATA" in tab.colnames()


def test_fluxscale_pane_run_and_flux_table(tui_ms):
    """G on both calibrators, a fluxscale block added by `a` (3C286 -> J1407+2827), run: the
    output with the flux scale opens by itself and its flux table replaces the plot."""
    async def drive():
        session, config = session_for(tui_ms)
        app = AlakazamApp(session, config)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("enter", "down", "enter", "2", "g")  # G on 3C286, J1407+2827
            await pilot.press("4", "a")
            await pilot.pause()
            assert app.session.doc["fluxscale"] == [{
                "reference_table": "cal.h5", "reference_field": "3C286",
                "transfer_table": "cal.h5", "transfer_field": ["J1407+2827"],
                "output": "cal_scaled.h5"}]
            assert list(app.session.doc) == ["solve", "fluxscale"]
            await pilot.press("r")
            await pilot.pause()
            inspector = app.query_one("#inspector")
            await wait_for(pilot, lambda: not app.query_one("#runner").busy and
                           inspector.fluxes and not inspector.live)
            assert inspector.table.path.endswith("cal_scaled.h5")
            (res,) = inspector.fluxes
            assert res.field == "J1407+2827" and res.completeness == 1.0
            tree = app.query_one("#sol-tree", Tree)
            flux_node = next(n for n in tree.root.children if str(n.label) == "Flux scale")
            tree.move_cursor(flux_node.children[0])
            await pilot.press("7", "enter")
            await pilot.pause()
            assert app.query_one("#flux-view").display and not app.query_one("#sol-plot").display
        return res

    res = asyncio.run(drive())
    for s in res.spws:  # 2.3 Jy at 1.4 GHz, spectral index -0.7, 5% gain drift: within 2%
        assert abs(s.flux_jy / (2.3 * (s.freq_hz / 1.4e9) ** -0.7) - 1) < 0.02


def test_session_round_trip(tmp_path, linear_ms):
    """load -> the app shows every pane -> save gives the same config."""
    doc = {"solve": [{"ms": linear_ms[0], "output": "x.h5", "ref_ant": 0,
                      "jones": ["K", "G"], "field": "3C286", "time_interval": ["inf", "60s"],
                      "external_preapply": {"tables": ["p.h5"], "jones": ["K"]}}],
           "fluxscale": [{"reference_table": "x.h5", "reference_field": "3C286",
                          "transfer_table": "x.h5", "transfer_field": "J1407+2827",
                          "output": "y.h5", "catalog": {"J1407+2827": {
                              "flux_jy": 2.3, "spix": -0.7, "ref_freq": "1.4GHz"}}}],
           "apply": [{"ms": linear_ms[0], "target_field": "TARGET", "jones": ["G"],
                      "tables": ["y.h5"]}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))

    async def drive():
        app = AlakazamApp(Session.load(str(path)), str(path))
        async with app.run_test(size=(80, 24)) as pilot:
            for pane in "1234567":
                await pilot.press(pane)
                await pilot.pause()
            app.session.save(str(tmp_path / "d.yaml"))

    asyncio.run(drive())
    assert yaml.safe_load((tmp_path / "d.yaml").read_text()) == doc


def test_picker_opens_an_ms(tui_ms, monkeypatch):
    from alakazam.tui.app import MSPicker

    monkeypatch.chdir(os.path.dirname(tui_ms))

    async def drive():
        app = MSPicker()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.5)
            await pilot.press("down", "enter")  # the first entry below the root: tui.ms
            await pilot.pause(0.5)
        return app.return_value

    assert os.path.basename(asyncio.run(drive())) == "tui.ms"


def test_bad_path_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.ms")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.ms" in err[0]
