"""The Textual MS browser, driven by the Pilot."""

from __future__ import annotations

import asyncio

from textual.widgets import DataTable, TabbedContent

from alakazam.engine.msmeta import read_meta
from alakazam.tui.app import MSBrowser, main


def test_browser_shows_the_ms(linear_ms):
    meta = read_meta(linear_ms[0])

    async def drive():
        app = MSBrowser(meta)
        async with app.run_test(size=(120, 40)) as pilot:
            fields = app.query_one("#fields-table", DataTable)
            assert fields.row_count == 3
            assert fields.get_row_at(0)[1] == "3C286"
            app.query_one(TabbedContent).active = "scans"
            await pilot.pause()
            scans = app.query_one("#scans-table", DataTable)
            assert scans.row_count == len(meta.scans)
            assert "OBSERVE_TARGET" in scans.get_row_at(2)[4]
            ants = app.query_one("#antennas-table", DataTable)
            assert ants.row_count == len(meta.antennas)
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(drive())


def test_bad_path_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.ms")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.ms" in err[0]
