"""Snapshots of the app's main screens at 80x24 and 120x40 (pytest-textual-snapshot): the
browser, the chain editor, the apply editor, the run pane after a run and the inspector with a
plot. Paths are relative (the tests run in the data's folder), so the screens are the same on
every machine; `pytest --snapshot-update` accepts a deliberate change after looking at it."""

from __future__ import annotations

import pytest
import yaml

from alakazam.engine.config import load_config
from alakazam.engine.simulate.simulate import SimOptions, simulate
from alakazam.engine.fluxscale import run_fluxscale
from alakazam.engine.solve import run_solve
from alakazam.tui.app import AlakazamApp
from alakazam.tui.session import Session

SIZES = [(80, 24), (120, 40)]
CONFIG = {"solve": [{"ms": "snap.ms", "output": "cal.h5", "ref_ant": "auto", "jones": ["K", "G"],
                     "field": [["3C286"], ["3C286", "J1407+2827"]],
                     "time_interval": ["inf", "60s"]}],
          "fluxscale": [{"reference_table": "cal.h5", "reference_field": "3C286",
                         "transfer_table": "cal.h5", "transfer_field": ["J1407+2827"],
                         "output": "cal_scaled.h5"}],
          "apply": [{"ms": "snap.ms", "target_field": "TARGET", "jones": ["K", "G"],
                     "tables": ["cal.h5", "cal_scaled.h5"], "field_select": ["nearest_time",
                                                                             "nearest_sky"]}]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """An MS, a config, its solutions (K then G, solved by the engine) and flux scale."""
    folder = tmp_path_factory.mktemp("snap")
    simulate(str(folder / "snap.ms"), SimOptions(terms=("K", "G"), snr=100.0, n_ant=5, n_spw=1,
                                                 duration=600))
    (folder / "snap.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
    config = load_config(str(folder / "snap.yaml"))
    run_solve(config.solve[0])
    run_fluxscale(config.fluxscale[0])
    return folder


def app_in(folder, monkeypatch) -> AlakazamApp:
    monkeypatch.chdir(folder)
    return AlakazamApp(Session.load("snap.yaml"), "snap.yaml")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("pane", ["1", "2", "4", "5"],
                         ids=["browse", "chain", "fluxscale", "apply"])
def test_editing_screens(snap_compare, folder, monkeypatch, size, pane):
    assert snap_compare(app_in(folder, monkeypatch), press=[pane], terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inspect_screen(snap_compare, folder, monkeypatch, size):
    app = app_in(folder, monkeypatch)

    async def open_table(pilot):
        await pilot.press("7")
        app.query_one("#inspector").open("cal.h5")  # G phases against time, shown first
        await pilot.pause()

    assert snap_compare(app, run_before=open_table, terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_flux_table_screen(snap_compare, folder, monkeypatch, size):
    app = app_in(folder, monkeypatch)

    async def open_flux(pilot):
        await pilot.press("7")
        inspector = app.query_one("#inspector")
        inspector.open("cal_scaled.h5")
        inspector.show_flux(inspector.fluxes[0])
        await pilot.pause()

    assert snap_compare(app, run_before=open_flux, terminal_size=size)
