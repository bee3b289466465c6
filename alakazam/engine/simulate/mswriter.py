"""Creating a complete Measurement Set with python-casacore: main table and every subtable.

The main table gets DATA, MODEL_DATA, FLAG and WEIGHT_SPECTRUM as fixed-shape tiled columns
(n_chan, n_corr), one DATA_DESC_ID per SPW and a single POLARIZATION row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from casacore import tables

from alakazam.engine.msmeta import CORR_NAMES

#: CORR_TYPE codes written for each basis and correlation set, in canonical 2x2 order.
CORR_TYPES = {("LINEAR", "all"): [9, 10, 11, 12], ("LINEAR", "parallel"): [9, 12],
              ("CIRCULAR", "all"): [5, 6, 7, 8], ("CIRCULAR", "parallel"): [5, 8]}
_RECEPTORS = {"LINEAR": ("X", "Y"), "CIRCULAR": ("R", "L")}


@dataclass(frozen=True)
class MSLayout:
    """What the subtables hold. positions: (n_ant, 3) ITRF m; freqs: (n_spw, n_chan) Hz;
    field_dirs: (n_field, 2) J2000 rad; receptor_angles: (n_ant, 2) rad; intents: one
    comma-separated OBS_MODE string per STATE row; time_range: MJD s."""

    telescope: str
    antenna_names: list[str]
    positions: np.ndarray
    dish: float
    freqs: np.ndarray
    basis: str
    corr_types: list[int]
    field_names: list[str]
    field_dirs: np.ndarray
    receptor_angles: np.ndarray
    intents: list[str]
    time_range: tuple[float, float]


def create_ms(path: str, lay: MSLayout) -> None:
    """Create the MS at `path` (which must not exist) with all subtables filled, no rows."""
    n_chan, n_corr = lay.freqs.shape[1], len(lay.corr_types)
    columns = [tables.makearrcoldesc(name, value, ndim=2, shape=[n_chan, n_corr],
                                     valuetype=kind, options=4)
               for name, value, kind in (("DATA", 0j, "complex"), ("MODEL_DATA", 0j, "complex"),
                                         ("FLAG", False, "boolean"),
                                         ("WEIGHT_SPECTRUM", 0.0, "float"))]
    dminfo = {f"*{i + 1}": {"NAME": f"Tiled{name}", "TYPE": "TiledColumnStMan",
                            "SPEC": {"DEFAULTTILESHAPE": [n_corr, n_chan, max(1, 8192 // n_chan)]},
                            "COLUMNS": [name]}
              for i, name in enumerate(("DATA", "MODEL_DATA", "FLAG", "WEIGHT_SPECTRUM"))}
    main = tables.default_ms(path, tables.maketabdesc(columns), dminfo)
    main.putcolkeyword("UVW", "MEASINFO", {"type": "uvw", "Ref": "J2000"})
    main.close()
    _fill_antenna(path, lay)
    _fill_spectral_window(path, lay)
    _fill(path, "POLARIZATION", 1, NUM_CORR=[n_corr], CORR_TYPE=[lay.corr_types],
          CORR_PRODUCT=[_corr_products(lay.corr_types)], FLAG_ROW=[False])
    n_spw = lay.freqs.shape[0]
    _fill(path, "DATA_DESCRIPTION", n_spw, SPECTRAL_WINDOW_ID=np.arange(n_spw),
          POLARIZATION_ID=np.zeros(n_spw, int), FLAG_ROW=np.zeros(n_spw, bool))
    _fill_field(path, lay)
    _fill_feed(path, lay)
    _fill(path, "OBSERVATION", 1, TELESCOPE_NAME=[lay.telescope], OBSERVER=["alakazam simulate"],
          PROJECT=["simulation"], TIME_RANGE=[list(lay.time_range)], RELEASE_DATE=[0.0],
          SCHEDULE_TYPE=[""], FLAG_ROW=[False])
    n_state = len(lay.intents)
    _fill(path, "STATE", n_state, OBS_MODE=lay.intents, SIG=np.ones(n_state, bool),
          REF=np.zeros(n_state, bool), CAL=np.zeros(n_state), LOAD=np.zeros(n_state),
          SUB_SCAN=np.zeros(n_state, int), FLAG_ROW=np.zeros(n_state, bool))
    _fill(path, "PROCESSOR", 1, TYPE=["CORRELATOR"], SUB_TYPE=[""], TYPE_ID=[0], MODE_ID=[0],
          FLAG_ROW=[False])
    _fill(path, "HISTORY", 1, TIME=[lay.time_range[0]], OBSERVATION_ID=[0],
          MESSAGE=["simulated with known Jones terms"], PRIORITY=["NORMAL"],
          ORIGIN=["alakazam.engine.simulate"], OBJECT_ID=[0], APPLICATION=["alakazam"])


def write_rows(tab, start: int, columns: dict[str, np.ndarray]) -> None:
    """Append rows to the open main table `tab`, starting at row `start` (its row count)."""
    n = len(next(iter(columns.values())))
    tab.addrows(n)
    for name, values in columns.items():
        tab.putcol(name, values, startrow=start, nrow=n)


def _fill(path, name, n_rows, **columns) -> None:
    tab = tables.table(f"{path}/{name}", readonly=False, ack=False)
    with tab:
        tab.addrows(n_rows)
        for column, values in columns.items():
            strings = isinstance(values, list) and values and isinstance(values[0], str)
            tab.putcol(column, values if strings else np.asarray(values))


def _fill_antenna(path, lay: MSLayout) -> None:
    n = len(lay.antenna_names)
    _fill(path, "ANTENNA", n, NAME=list(lay.antenna_names),
          STATION=[f"PAD{i:02d}" for i in range(n)], TYPE=["GROUND-BASED"] * n,
          MOUNT=["ALT-AZ"] * n, POSITION=lay.positions, OFFSET=np.zeros((n, 3)),
          DISH_DIAMETER=np.full(n, lay.dish), FLAG_ROW=np.zeros(n, bool))
    tab = tables.table(f"{path}/ANTENNA", readonly=False, ack=False)
    with tab:
        tab.putcolkeyword("POSITION", "MEASINFO", {"type": "position", "Ref": "ITRF"})


def _fill_spectral_window(path, lay: MSLayout) -> None:
    n_spw, n_chan = lay.freqs.shape
    width = np.gradient(lay.freqs, axis=1) if n_chan > 1 else np.full((n_spw, 1), 1e6)
    _fill(path, "SPECTRAL_WINDOW", n_spw, NUM_CHAN=np.full(n_spw, n_chan),
          NAME=[f"SPW{i}" for i in range(n_spw)], REF_FREQUENCY=lay.freqs[:, 0],
          CHAN_FREQ=lay.freqs, CHAN_WIDTH=width, EFFECTIVE_BW=np.abs(width),
          RESOLUTION=np.abs(width), MEAS_FREQ_REF=np.full(n_spw, 5),
          TOTAL_BANDWIDTH=np.abs(width).sum(axis=1), NET_SIDEBAND=np.ones(n_spw, int),
          IF_CONV_CHAIN=np.zeros(n_spw, int), FREQ_GROUP=np.zeros(n_spw, int),
          FREQ_GROUP_NAME=[""] * n_spw, FLAG_ROW=np.zeros(n_spw, bool))


def _fill_field(path, lay: MSLayout) -> None:
    n = len(lay.field_names)
    dirs = lay.field_dirs.reshape(n, 1, 2)
    _fill(path, "FIELD", n, NAME=list(lay.field_names), CODE=[""] * n,
          TIME=np.full(n, lay.time_range[0]), NUM_POLY=np.zeros(n, int), DELAY_DIR=dirs,
          PHASE_DIR=dirs, REFERENCE_DIR=dirs, SOURCE_ID=np.arange(n),
          FLAG_ROW=np.zeros(n, bool))


def _fill_feed(path, lay: MSLayout) -> None:
    n = len(lay.antenna_names)
    _fill(path, "FEED", n, ANTENNA_ID=np.arange(n), FEED_ID=np.zeros(n, int),
          SPECTRAL_WINDOW_ID=np.full(n, -1), TIME=np.full(n, lay.time_range[0]),
          INTERVAL=np.full(n, lay.time_range[1] - lay.time_range[0]),
          NUM_RECEPTORS=np.full(n, 2), BEAM_ID=np.full(n, -1),
          BEAM_OFFSET=np.zeros((n, 2, 2)), POLARIZATION_TYPE=[list(_RECEPTORS[lay.basis])] * n,
          POL_RESPONSE=np.tile(np.eye(2, dtype=complex), (n, 1, 1)),
          POSITION=np.zeros((n, 3)), RECEPTOR_ANGLE=lay.receptor_angles)


def _corr_products(corr_types) -> np.ndarray:
    """CORR_PRODUCT (n_corr, 2): receptor indices of each correlation (casacore's (2, n_corr)
    shown transposed by python-casacore)."""
    index = {"X": 0, "Y": 1, "R": 0, "L": 1}
    return np.array([[index[CORR_NAMES[c][0]], index[CORR_NAMES[c][1]]] for c in corr_types])
