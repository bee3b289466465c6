"""CASA calibration tables (caltables), written and read with python-casacore.

A caltable holds one Jones type: a main table of one row per (time, field, SPW, antenna)
with the parameters of both receptors per channel (G, B: CPARAM (2, n_chan) complex gains;
K: FPARAM (2, 1) delays in ns), PARAMERR, FLAG, SNR, WEIGHT, ANTENNA2 the reference antenna;
keywords ParType, MSName, VisCal, PolBasis; subtables ANTENNA, FIELD, OBSERVATION, HISTORY
(from the MS) and SPECTRAL_WINDOW (the solutions' channels; a K table's one channel is the
SPW centre, the frequency its delay is referenced to, as ours: checked with CASA's applycal,
which needs the CASA_Version keyword for it).
CASA's conventions are ours: V_obs = g_p V g_q^*, K = exp(2 pi i tau (nu - nu0)), D =
[[1, d_pq], [d_qp, 1]]; its Xf Jones is diag(c, 1), ours diag(1, exp(i phi)), so c =
exp(-i phi). CASA's applycal applies a D table to first order, to the cross hands only
(C_XY = V_XY - d_pq,p V_YY - V_XX d_qp,q^*, parallel hands untouched: checked to 2e-7), where
ALAKAZAM inverts the whole matrix: the two differ by O(|d|^2).
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
from casacore import tables

from alakazam.engine.errors import InputError, check_output
from alakazam.engine.jones import delay_phasor, diagonal
from alakazam.engine.solution import Solution

VISCAL = {"G": "G Jones", "B": "B Jones", "K": "K Jones", "D": "Df Jones", "Xf": "Xf Jones"}
_JONES_OF = {**{v: k for k, v in VISCAL.items()}, "D Jones": "D"}
_FROM_MS = ("ANTENNA", "FIELD", "OBSERVATION", "HISTORY")
# The CASA_Version keyword says which conventions a caltable follows: without it CASA reads K
# delays as referenced to the SPW's REF_FREQUENCY (older versions); with it, to the table's
# channel frequency, the SPW centre, as ours (checked: applycal then matches to 2.5e-7)
CASA_CONVENTIONS = "6.7.0"


def is_caltable(path: str) -> bool:
    """Whether `path` is a CASA calibration table (a table directory of type Calibration)."""
    info = os.path.join(path, "table.info")
    if not os.path.isfile(info):
        return False
    with open(info, errors="replace") as fh:
        return fh.readline().split("=", 1)[-1].strip() == "Calibration"


def caltable_attrs(path: str) -> dict:
    """What a caltable says of itself, as the root attributes of a solution file:
    antenna_names (JSON list), feed_basis, ms, format."""
    with tables.table(path, ack=False) as tab:
        keywords = tab.getkeywords()
    with tables.table(os.path.join(path, "ANTENNA"), ack=False) as sub:
        names = [str(n) for n in sub.getcol("NAME")]
    return {"format": f"CASA caltable ({keywords.get('VisCal', '?')})",
            "antenna_names": json.dumps(names), "ms": str(keywords.get("MSName", "")),
            "feed_basis": str(keywords.get("PolBasis", "LINEAR"))}


def write_caltable(sols: list[Solution], out: str, ms: str, basis: str) -> int:
    """Write solutions of one Jones type (G, B, K, D or Xf) as the caltable `out` (through a
    temporary name); `ms` supplies the ANTENNA, FIELD, OBSERVATION, HISTORY (emptied) and
    SPECTRAL_WINDOW (channels replaced) subtables. Returns the number of rows."""
    jtype = sols[0].jones_type
    if jtype not in VISCAL or any(s.jones_type != jtype for s in sols):
        raise InputError(f"{out}: a CASA caltable holds one of {', '.join(VISCAL)}, "
                         f"not {', '.join(sorted({s.jones_type for s in sols}))}")
    if os.path.exists(out):
        raise InputError(f"{out}: exists (choose a new name)")
    check_output(out)
    tmp = f"{out}.partial-{os.getpid()}"
    try:
        rows = _write(sols, tmp, ms, basis, jtype)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    return rows


def _write(sols, path, ms, basis, jtype) -> int:
    complex_par = jtype != "K"
    param = "CPARAM" if complex_par else "FPARAM"
    desc = tables.maketabdesc([
        tables.makescacoldesc("TIME", 0.0, keywords={"QuantumUnits": ["s"], "MEASINFO": {
            "type": "epoch", "Ref": "UTC"}}),
        tables.makescacoldesc("FIELD_ID", 0), tables.makescacoldesc("SPECTRAL_WINDOW_ID", 0),
        tables.makescacoldesc("ANTENNA1", 0), tables.makescacoldesc("ANTENNA2", 0),
        tables.makescacoldesc("INTERVAL", 0.0, keywords={"QuantumUnits": ["s"]}),
        tables.makescacoldesc("SCAN_NUMBER", 0), tables.makescacoldesc("OBSERVATION_ID", 0),
        tables.makearrcoldesc(param, 0j if complex_par else 0.0, ndim=2,
                              valuetype="complex" if complex_par else "float"),
        tables.makearrcoldesc("PARAMERR", 0.0, ndim=2, valuetype="float"),
        tables.makearrcoldesc("FLAG", False, ndim=2),
        tables.makearrcoldesc("SNR", 0.0, ndim=2, valuetype="float"),
        tables.makearrcoldesc("WEIGHT", 0.0, ndim=2, valuetype="float"),
    ])
    n_rows = sum(len(s.time) * s.n_ant for s in sols)
    with tables.table(path, desc, nrow=n_rows, ack=False) as tab:
        start = 0
        for sol in sols:
            start = _put(tab, sol, param, start)
        tab.putinfo({"type": "Calibration", "subType": VISCAL[jtype], "readme": ""})
        tab.putkeywords({"ParType": "Complex" if complex_par else "Float",
                         "MSName": os.path.basename(os.path.normpath(ms)),
                         "VisCal": VISCAL[jtype], "PolBasis": basis,
                         "CASA_Version": CASA_CONVENTIONS})
        for name in _FROM_MS:
            if not os.path.isdir(os.path.join(ms, name)):
                raise InputError(f"{ms}: no {name} subtable to copy into the caltable")
            with tables.table(os.path.join(ms, name), ack=False) as sub:
                sub.copy(os.path.join(path, name), deep=True).close()
        _spectral_windows(ms, path, sols, jtype)
        with tables.table(os.path.join(path, "HISTORY"), readonly=False, ack=False) as sub:
            sub.removerows(list(range(sub.nrows())))
        for name in (*_FROM_MS, "SPECTRAL_WINDOW"):
            tab.putkeyword(name, "Table: " + os.path.abspath(os.path.join(path, name)))
    return n_rows


def _put(tab, sol: Solution, param: str, start: int) -> int:
    """Rows of one solution (time-major, then antenna) from row `start`; the next free row."""
    n_t, n_ant = len(sol.time), sol.n_ant
    n = n_t * n_ant
    rows = dict(startrow=start, nrow=n)
    tab.putcol("TIME", np.repeat(sol.time, n_ant), **rows)
    tab.putcol("INTERVAL", np.repeat(np.diff(sol.time_bounds, axis=1)[:, 0], n_ant), **rows)
    tab.putcol("FIELD_ID", np.full(n, sol.field_id, np.int32), **rows)
    tab.putcol("SPECTRAL_WINDOW_ID", np.full(n, sol.spw_id, np.int32), **rows)
    tab.putcol("ANTENNA1", np.tile(np.arange(n_ant, dtype=np.int32), n_t), **rows)
    tab.putcol("ANTENNA2", np.repeat(np.maximum(sol.ref_ant_used[:, 0], -1), n_ant)
               .astype(np.int32), **rows)
    tab.putcol("SCAN_NUMBER", np.full(n, -1, np.int32), **rows)
    tab.putcol("OBSERVATION_ID", np.zeros(n, np.int32), **rows)
    value, snr, flag = _parameters(sol)
    n_p, n_f = value.shape[2], value.shape[3]
    value, snr, flag = (a.reshape(n, n_p, n_f) for a in (value, snr, flag))
    err = np.where(snr > 0, np.abs(value) / np.maximum(snr, 1e-30), 0.0)

    def cells(a, dtype):  # (n, n_p, n_f) -> numpy (n, n_f, n_p): casacore's [n_p, n_f] cells
        return np.ascontiguousarray(np.swapaxes(a, 1, 2), dtype=dtype)

    tab.putcol(param, cells(value, np.complex64 if param == "CPARAM" else np.float32), **rows)
    tab.putcol("PARAMERR", cells(err, np.float32), **rows)
    tab.putcol("FLAG", cells(flag, bool), **rows)
    tab.putcol("SNR", cells(snr, np.float32), **rows)
    tab.putcol("WEIGHT", np.ones((n, n_f, n_p), np.float32), **rows)
    return start + n


def _parameters(sol: Solution):
    """(value, snr, flag), each (n_t, n_ant, n_par, n_f): CASA's parameters of a solution.
    G, B: the two receptors' gains; K: their delays (ns) on one channel; D: d_pq, d_qp; Xf:
    one parameter, the same for every antenna, exp(-i phi) on receptor 1 (CASA's Xf Jones is
    diag(c, 1); ours diag(1, exp(i phi)): the same up to a phase common to every antenna)."""
    per_receptor = np.moveaxis(sol.snr, 1, -1)  # (n_t, n_ant, 2, n_f)
    if sol.jones_type == "K":
        value = sol.native["delay"][..., None]
        snr = per_receptor[..., :1]
        flags = sol.flags[:, :1]
    elif sol.jones_type == "D":
        value = np.moveaxis(np.stack([sol.jones[..., 0, 1], sol.jones[..., 1, 0]], axis=-1), 1, -1)
        snr, flags = per_receptor, sol.flags
    elif sol.jones_type == "Xf":  # CASA: diag(c, 1) = exp(-i phi) diag(1, exp(i phi))
        value = np.moveaxis(np.conj(sol.jones[..., 1, 1]), 1, -1)[:, :, None]
        snr, flags = per_receptor[:, :, :1], sol.flags
    else:
        value = np.moveaxis(np.diagonal(sol.jones, axis1=-2, axis2=-1), 1, -1)
        snr, flags = per_receptor, sol.flags
    flag = np.broadcast_to(np.moveaxis(flags, 1, -1)[:, :, None], value.shape)
    return value, snr, flag


def _spectral_windows(ms: str, path: str, sols: list[Solution], jtype: str) -> None:
    """The MS's SPECTRAL_WINDOW with each solved SPW's channels set to the solutions' (a K
    table: one channel at the SPW centre, nu0)."""
    with tables.table(os.path.join(ms, "SPECTRAL_WINDOW"), ack=False) as sub:
        sub.copy(os.path.join(path, "SPECTRAL_WINDOW"), deep=True).close()
    with tables.table(os.path.join(path, "SPECTRAL_WINDOW"), readonly=False, ack=False) as sub:
        for sol in {s.spw_id: s for s in sols}.values():
            if jtype == "K":
                freq = np.array([np.mean(sol.freq)])
                width = np.array([np.sum(np.diff(sol.freq_bounds, axis=1))])
            else:
                freq, width = sol.freq, np.diff(sol.freq_bounds, axis=1)[:, 0]
            r = sol.spw_id
            sub.putcell("NUM_CHAN", r, len(freq))
            for col, value in (("CHAN_FREQ", freq), ("CHAN_WIDTH", width),
                               ("EFFECTIVE_BW", np.abs(width)), ("RESOLUTION", np.abs(width))):
                sub.putcell(col, r, np.asarray(value, float))


def read_caltable(path: str, jones_type: str | None = None,
                  spw_freqs: dict | None = None) -> list[Solution]:
    """The solutions of a CASA caltable (G, B, K, D or Xf), one per field and SPW; [] when
    `jones_type` is given and the table holds another. A K table's Jones matrices are
    evaluated at spw_freqs[spw] (Hz: the channels of the MS it is applied to) when given,
    else at its own channel."""
    with tables.table(path, ack=False) as tab:
        viscal = str(tab.getkeywords().get("VisCal", tab.info().get("subType", "")))
        jtype = _JONES_OF.get(viscal)
        if jtype is None:
            raise InputError(f"{path}: a CASA caltable of type {viscal!r}; this version reads "
                             f"{', '.join(VISCAL.values())}")
        if jones_type is not None and jones_type != jtype:
            return []
        cols = {c: tab.getcol(c) for c in ("TIME", "INTERVAL", "FIELD_ID", "SPECTRAL_WINDOW_ID",
                                          "ANTENNA1", "ANTENNA2")}
        # numpy (n_row, n_f, 2) per casacore's [2, n_f] cells -> (n_row, 2, n_f)
        param, flag, snr = (np.swapaxes(tab.getcol(c), 1, 2) for c in (
            "FPARAM" if jtype == "K" else "CPARAM", "FLAG", "SNR"))
    with tables.table(os.path.join(path, "ANTENNA"), ack=False) as sub:
        n_ant = sub.nrows()
    with tables.table(os.path.join(path, "FIELD"), ack=False) as sub:
        names, dirs = sub.getcol("NAME"), sub.getcol("PHASE_DIR")[:, 0, :]
    with tables.table(os.path.join(path, "SPECTRAL_WINDOW"), ack=False) as sub:
        chan = {r: (sub.getcell("CHAN_FREQ", r), sub.getcell("CHAN_WIDTH", r))
                for r in range(sub.nrows())}
    out = []
    keys = np.stack([cols["FIELD_ID"], cols["SPECTRAL_WINDOW_ID"]], axis=1)
    for fid, spw in np.unique(keys, axis=0):
        sel = np.flatnonzero((keys[:, 0] == fid) & (keys[:, 1] == spw))
        out.append(_solution(jtype, int(fid), str(names[fid]), dirs[fid], int(spw), chan[spw],
                             n_ant, {k: v[sel] for k, v in cols.items()}, param[sel], flag[sel],
                             snr[sel], None if spw_freqs is None else spw_freqs.get(int(spw)),
                             path))
    return out


def _jones(jtype: str, par: np.ndarray, flags: np.ndarray):
    """Jones matrices (n_t, n_f, n_ant, 2, 2) and native parameters of CASA's parameters
    par (n_t, n_f, n_ant, n_par) (flagged: the identity)."""
    par = np.where(flags[..., None], 0.0 if jtype == "D" else 1.0, par)
    if jtype == "D":
        jones = np.ones(par.shape[:3] + (2, 2), complex)
        jones[..., 0, 1], jones[..., 1, 0] = par[..., 0], par[..., 1]
        return jones, {"d_pq": par[..., 0], "d_qp": par[..., 1]}
    if jtype == "Xf":
        phi = -np.angle(par[..., 0])  # the same for every antenna: take the first good one
        good = ~flags
        first = np.where(good.any(axis=-1), good.argmax(axis=-1), 0)
        phi_pq = np.take_along_axis(phi, first[..., None], axis=-1)[..., 0]
        ones = np.ones(phi.shape)
        return diagonal(np.stack([ones, np.exp(1j * phi_pq)[..., None] * ones], axis=-1)), {
            "phi_pq": phi_pq}
    return diagonal(par), {"gain": par}


def _solution(jtype, fid, name, direction, spw, chan, n_ant, cols, param, flag, snr, freqs,
              path) -> Solution:
    times, t_index = np.unique(cols["TIME"], return_inverse=True)
    n_t, ant = len(times), cols["ANTENNA1"]
    half = np.zeros(n_t)
    half[t_index] = cols["INTERVAL"] / 2
    shape = (n_t, n_ant) + param.shape[1:]  # (n_t, n_ant, n_par, n_f)
    value, bad, ratio = np.zeros(shape, param.dtype), np.ones(shape, bool), np.zeros(shape)
    value[t_index, ant], bad[t_index, ant], ratio[t_index, ant] = param, flag, snr
    ref = np.full(n_t, -1)
    ref[t_index] = cols["ANTENNA2"]
    chan_freq, chan_width = (np.asarray(v, float) for v in chan)
    if jtype == "K":
        delay = value[..., 0].astype(float)  # (n_t, n_ant, 2) ns
        axis = chan_freq if freqs is None else np.asarray(freqs, float)
        widths = np.full(len(axis), np.abs(np.median(np.diff(axis))) if len(axis) > 1
                         else abs(chan_width[0]))
        diag = np.moveaxis(delay_phasor(delay, axis, float(chan_freq[0])), 0, 1)
        flags = np.repeat(bad.any(axis=(2, 3))[:, None], len(axis), axis=1)
        snr_out = np.repeat(ratio[..., 0][:, None], len(axis), axis=1)
        native = {"delay": delay}
        jones = diagonal(np.where(flags[..., None], 1.0, diag))
    else:
        axis, widths = chan_freq, np.abs(chan_width)
        par = np.moveaxis(value, -1, 1).astype(complex)  # (n_t, n_f, n_ant, n_par)
        flags = np.moveaxis(bad.any(axis=2), -1, 1)
        snr_out = np.moveaxis(ratio, -1, 1)
        if snr_out.shape[-1] == 1:
            snr_out = np.repeat(snr_out, 2, axis=-1)
        jones, native = _jones(jtype, par, flags)
    return Solution(
        jones_type=jtype, field_id=fid, field_name=name, field_ra=float(direction[0]),
        field_dec=float(direction[1]), spw_id=spw, time=times,
        time_bounds=np.stack([times - half, times + half], axis=1), freq=axis,
        freq_bounds=np.stack([axis - widths / 2, axis + widths / 2], axis=1), jones=jones,
        flags=flags, reason=flags.astype(np.uint8), snr=snr_out.astype(float),
        ref_ant_used=np.repeat(ref[:, None], len(axis), axis=1),
        native=native, attrs={"source": "CASA caltable", "table": os.path.abspath(path)})
