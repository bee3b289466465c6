"""Snapshots of the app's main screens at 80x24 and 120x40 (pytest-textual-snapshot): the
browser, the chain editor, the apply editor, the run pane after a run and the inspector with a
plot. Paths are relative (the tests run in the data's folder), so the screens are the same on
every machine; `pytest --snapshot-update` accepts a deliberate change after looking at it."""

from __future__ import annotations

import pytest
import yaml

from alakazam.engine.config import load_config
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.solve import run_solve
from alakazam.tui.app import AlakazamApp
from alakazam.tui.session import Session

SIZES = [(80, 24), (120, 40)]
CONFIG = {"solve": [{"ms": "snap.ms", "output": "cal.h5", "ref_ant": "auto", "jones": ["K", "G"],
                     "field": [["3C286"], ["3C286", "J1407+2827"]],
                     "time_interval": ["inf", "60s"]}],
          "apply": [{"ms": "snap.ms", "target_field": "TARGET", "jones": ["K", "G"],
                     "tables": ["cal.h5", "cal.h5"], "field_select": ["nearest_time",
                                                                      "nearest_sky"]}]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An MS, a config and its solutions (K then G, solved by the engine)."""
    folder = tmp_path_factory.mktemp("snap")
    simulate(str(folder / "snap.ms"), SimOptions(terms=("K", "G"), snr=100.0, n_ant=5, n_spw=1,
                                                 duration=600))
    (folder / "snap.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    run_solve(load_config(str(folder / "snap.yaml")).solve[0])
    return folder


def app_in(folder, monkeypatch) -> AlakazamApp:
    monkeypatch.chdir(folder)
    return AlakazamApp(Session.load("snap.yaml"), "snap.yaml")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", ["1", "2", "4"], ids=["browse", "chain", "apply"])
def test_editing_screens(snap_compare, folder, monkeypatch, size, pane):
    assert snap_compare(app_in(folder, monkeypatch), press=[pane], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inspect_screen(snap_compare, folder, monkeypatch, size):
    app = app_in(folder, monkeypatch)

    async def open_table(pilot):
        await pilot.press("6")
        app.query_one("#inspector").open("cal.h5")  # G phases against time, shown first
        await pilot.pause()

    assert snap_compare(app, run_before=open_table, terminal_size=size)
