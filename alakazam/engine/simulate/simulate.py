"""`alakazam simulate`: write an MS of calibrator and target scans corrupted by known Jones
terms, with the truth saved beside it.

Fields: a flux calibrator (model = truth), a phase calibrator whose MODEL_DATA is a 1 Jy point
source while its true flux density is different (2.3 Jy, spectral index -0.7, what fluxscale
must recover), and a target (MODEL_DATA 1 Jy, as CASA initialises it; true sky a 0.5 Jy source
at the phase centre and a 0.2 Jy source 3 arcmin away). Scans of `scan_length` seconds run
flux calibrator, then phase calibrator and target alternately, ending on the phase calibrator;
the observation is centred on the target's transit.

DATA = J_p V_true J_q^H + noise, with J = G B K Xf Kcross . D . P (CONVENTIONS.md). Noise is
complex Gaussian with sigma = (true phase-calibrator flux density at the first channel) / snr
on each of the real and imaginary parts; WEIGHT = 1 / sigma**2.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import numpy as np
from casacore import tables

from alakazam.engine import geometry, rime
from alakazam.engine.errors import InputError
from alakazam.engine.simulate.layouts import layout
from alakazam.engine.simulate.mswriter import CORR_TYPES, MSLayout, create_ms, write_rows
from alakazam.engine.simulate.truth import TERMS, Truth
from alakazam.engine.sky import PointSource, point_visibilities

ARCMIN = np.pi / (180 * 60)
_INTENTS = {"flux": "CALIBRATE_FLUX#ON_SOURCE,CALIBRATE_BANDPASS#ON_SOURCE",
            "phase": "CALIBRATE_PHASE#ON_SOURCE,CALIBRATE_AMPLI#ON_SOURCE",
            "target": "OBSERVE_TARGET#ON_SOURCE"}
_ROLES = ("flux", "phase", "target")
SCHEDULES = ("standard", "polcal")


def _hms(h, m, s):
    return np.radians(15 * (h + m / 60 + s / 3600))


def _dms(d, m, s):
    return np.sign(d) * np.radians(abs(d) + m / 60 + s / 3600)


#: name, ra, dec (rad), true (I, Q, U, V) Jy at 1.4 GHz, spix, per array, in _ROLES order.
_FIELDS = {
    "vla": [("3C286", _hms(13, 31, 8.288), _dms(30, 30, 32.96), (14.9, 0.5647, 1.2922, 0.0), -0.47),
            ("J1407+2827", _hms(14, 7, 0.394), _dms(28, 27, 14.69), (2.3, 0, 0, 0), -0.7),
            ("TARGET", _hms(14, 15, 0.0), _dms(27, 0, 0.0), (0.5, 0, 0, 0), -0.8)],
    "meerkat": [("J1939-6342", _hms(19, 39, 25.026), _dms(-63, 42, 45.63), (15.0, 0, 0, 0), -0.9),
                ("J1830-3602", _hms(18, 30, 58.8), _dms(-36, 2, 30.1), (2.3, 0, 0, 0), -0.7),
                ("TARGET", _hms(18, 40, 0.0), _dms(-35, 0, 0.0), (0.5, 0, 0, 0), -0.8)],
}
_FLUX_REF_FREQ = 1.4e9
_DATE_MJD = 61119.0  # 2026-03-20: the day whose target transit the observation is centred on


@dataclass
class SimOptions:
    """Options of a simulation. Frequencies Hz, times s; snr = inf means noiseless."""

    array: str = "vla"
    n_ant: int = 7
    n_spw: int = 2
    n_chan: int = 16
    start_freq: float = 1.3e9
    spw_bandwidth: float = 64e6
    duration: float = 1200.0
    integration: float = 10.0
    scan_length: float = 120.0
    feed: str = "LINEAR"
    corr: str = "all"
    terms: tuple[str, ...] = TERMS
    snr: float = 50.0
    flag_ant: tuple[int, ...] = ()
    rfi_fraction: float = 0.0
    gain_drift: float = 0.05
    autocorr: bool = False
    schedule: str = "standard"
    seed: int = 1

    def check(self) -> None:
        """Raise InputError naming the first option with an impossible value."""
        checks = [
            ("array", self.array in _FIELDS, f"one of {sorted(_FIELDS)}"),
            ("n_ant", 2 <= self.n_ant <= 300, "between 2 and 300"),
            ("n_spw", 1 <= self.n_spw <= 64, "between 1 and 64"),
            ("n_chan", 1 <= self.n_chan <= 65536, "between 1 and 65536"),
            ("duration", self.duration > 0, "positive"),
            ("integration", 0 < self.integration <= self.duration, "positive and <= duration"),
            ("scan_length", self.scan_length >= self.integration, ">= integration"),
            ("feed", self.feed in ("LINEAR", "CIRCULAR"), "LINEAR or CIRCULAR"),
            ("corr", self.corr in ("all", "parallel"), "all or parallel"),
            ("terms", set(self.terms) <= set(TERMS), f"a subset of {','.join(TERMS)}"),
            ("snr", self.snr > 0, "positive (inf for noiseless)"),
            ("flag_ant", all(0 <= a < self.n_ant for a in self.flag_ant), f"antenna indices < {self.n_ant}"),
            ("rfi_fraction", 0 <= self.rfi_fraction < 0.5, "in [0, 0.5)"),
            ("gain_drift", 0 <= self.gain_drift < 1, "in [0, 1)"),
            ("schedule", self.schedule in SCHEDULES, f"one of {', '.join(SCHEDULES)}"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise InputError(f"simulate option {name}={getattr(self, name)!r}: must be {expected}")
        if self.corr == "parallel" and set(self.terms) & {"D", "Xf", "Kcross"}:
            raise InputError("simulate option terms: D, Xf and Kcross need corr=all "
                             "(parallel hands cannot constrain them)")


def simulate(out: str, opts: SimOptions, overwrite: bool = False, progress=None) -> Truth:
    """Write the MS `out` and its truth files; return the Truth.

    The MS is written under a temporary name and renamed when complete, so an interrupted run
    leaves nothing behind. progress(done, total) is called after each chunk of time slots.
    """
    opts.check()
    out = os.path.normpath(out)
    if os.path.exists(out) and not overwrite:
        raise InputError(f"{out}: already exists (use --overwrite to replace it)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise InputError(f"{out}: directory {parent} does not exist")
    tmp = f"{out}.partial-{os.getpid()}"
    try:
        truth = _write(tmp, opts, progress)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
    truth.save(out)
    return truth


def _write(path: str, opts: SimOptions, progress) -> Truth:
    rng = np.random.default_rng(opts.seed)
    names, positions, site = layout(opts.array, opts.n_ant, opts.seed)
    fields = _fields(opts)
    freqs = (opts.start_freq + np.arange(opts.n_spw)[:, None] * opts.spw_bandwidth
             + (np.arange(opts.n_chan)[None, :] + 0.5) * opts.spw_bandwidth / opts.n_chan)
    times, time_field, time_scan = _schedule(opts, fields, positions)
    receptor = np.zeros((opts.n_ant, 2))
    if opts.feed == "LINEAR":
        receptor[:, 1] = np.pi / 2
    chi = np.zeros((len(times), opts.n_ant))
    uvw_ant = np.zeros((len(times), opts.n_ant, 3))
    for fid, fdef in enumerate(fields):
        at = time_field == fid
        chi[at] = geometry.parallactic_angles(times[at], fdef["ra"], fdef["dec"], positions)
        uvw_ant[at] = geometry.antenna_uvw(times[at], fdef["ra"], fdef["dec"], positions)
    chi += receptor[None, :, 0]
    truth = _draw_truth(rng, opts, times, time_field, freqs, chi, fields)

    corr_types = CORR_TYPES[(opts.feed, opts.corr)]
    slots = [0, 1, 2, 3] if opts.corr == "all" else [0, 3]
    intents = [_INTENTS[f["role"]] for f in fields]
    create_ms(path, MSLayout(site.name, names, positions, site.dish, freqs, opts.feed,
                             corr_types, [f["name"] for f in fields],
                             np.array([[f["ra"], f["dec"]] for f in fields]), receptor, intents,
                             (times[0] - opts.integration / 2, times[-1] + opts.integration / 2)))
    ant1, ant2 = np.triu_indices(opts.n_ant, 0 if opts.autocorr else 1)
    ant1, ant2 = ant1.astype(np.int32), ant2.astype(np.int32)
    n_bl = len(ant1)
    rows_per_time = opts.n_spw * n_bl
    per_chunk = max(1, 200_000 // (rows_per_time * max(1, opts.n_chan // 16)))
    tab = tables.table(path, readonly=False, ack=False)
    noise_seed = int(rng.integers(2**31))
    with tab:
        for start in range(0, len(times), per_chunk):
            tslots = np.arange(start, min(start + per_chunk, len(times)))
            columns = _chunk(opts, truth, fields, tslots, ant1, ant2, uvw_ant, time_scan,
                             slots, noise_seed + start, rng)
            write_rows(tab, start * rows_per_time, columns)
            if progress is not None:
                progress(int(tslots[-1]) + 1, len(times))
    return truth


def _fields(opts: SimOptions) -> list[dict]:
    out = []
    for role, (name, ra, dec, stokes, spix) in zip(_ROLES, _FIELDS[opts.array]):
        true = [PointSource(ra, dec, stokes, _FLUX_REF_FREQ, spix)]
        if role == "target":
            true.append(PointSource(ra + 3 * ARCMIN / np.cos(dec), dec, (0.2, 0, 0, 0),
                                    _FLUX_REF_FREQ, -0.7))
        model = true if role == "flux" else [PointSource(ra, dec, (1.0, 0, 0, 0), _FLUX_REF_FREQ)]
        out.append({"name": name, "role": role, "ra": ra, "dec": dec,
                    "true": [vars(s) for s in true], "model": [vars(s) for s in model]})
    return out


def _schedule(opts, fields, positions):
    """Distinct times (n_t,) MJD s centred on the target's transit, with the field id and scan
    number observed at each. standard: scan 1 the flux calibrator, then phase calibrator and
    target alternating, the last scan (of more than three) the phase calibrator. polcal: flux
    (polarisation) calibrator, phase calibrator and target in turn, so that the flux
    calibrator is seen over a range of parallactic angle."""
    target = fields[2]
    t_ref = _DATE_MJD * 86400.0
    ha, _ = geometry.apparent_hadec(np.array([t_ref]), target["ra"], target["dec"],
                                    np.mean(positions, axis=0))
    transit = t_ref + ((-ha[0]) % (2 * np.pi)) / geometry.SIDEREAL_RATE
    n_t = max(1, int(round(opts.duration / opts.integration)))
    start = transit - opts.duration / 2
    times = start + (np.arange(n_t) + 0.5) * opts.integration
    scan_index = np.floor((times - start) / opts.scan_length).astype(int)
    n_scan = scan_index[-1] + 1
    if opts.schedule == "polcal":
        role_of_scan = np.arange(n_scan) % 3
    else:
        role_of_scan = np.where(np.arange(n_scan) % 2 == 1, 1, 2)
        role_of_scan[0] = 0
        if n_scan > 3:
            role_of_scan[-1] = 1
    return times, role_of_scan[scan_index], scan_index + 1


def _draw_truth(rng, opts, times, time_field, freqs, chi, fields) -> Truth:
    n_ant, n_spw, n_chan = opts.n_ant, opts.n_spw, opts.n_chan
    on = set(opts.terms)
    hours = (times - times[0])[:, None, None] / 3600.0
    gains = np.ones((len(times), n_ant, 2), complex)
    if "G" in on:
        amp0 = rng.uniform(0.8, 1.2, (1, n_ant, 2))
        ph0 = rng.uniform(-np.pi, np.pi, (1, n_ant, 2))
        period = rng.uniform(1.0, 3.0, (1, n_ant, 2))
        # the phase drift (atmosphere) is common to an antenna's two receptors: the
        # receptor-2 minus receptor-1 phase of each antenna stays fixed
        drift = 0.5 * np.sin(2 * np.pi * hours / period[..., :1] + ph0[..., :1])
        gains = (amp0 * (1 + opts.gain_drift * np.sin(2 * np.pi * hours / period))
                 * np.exp(1j * (ph0 + drift)))
    bandpass = np.ones((n_spw, n_chan, n_ant, 2), complex)
    if "B" in on:
        x = np.linspace(-1, 1, n_chan)[None, :, None, None]
        a = rng.normal(0, 1, (4, n_spw, 1, n_ant, 2))
        bandpass = ((1 + 0.08 * a[0] * np.sin(np.pi * x + a[1]) - 0.1 * x**4)
                    * np.exp(1j * 0.3 * a[2] * np.sin(np.pi * x * 1.5 + a[3])))
    delays = rng.normal(0, 2.0, (n_ant, 2)) if "K" in on else np.zeros((n_ant, 2))
    leakage = np.zeros((n_spw, n_chan, n_ant, 2), complex)
    if "D" in on:
        d0 = rng.normal(0, 0.04, (n_ant, 2)) + 1j * rng.normal(0, 0.04, (n_ant, 2))
        leakage += d0
    xf_phase = rng.uniform(-np.pi, np.pi, n_spw) if "Xf" in on else np.zeros(n_spw)
    kcross_delay = float(rng.normal(0, 1.5)) if "Kcross" in on else 0.0
    if "D" in on:  # a linear slope over the whole band (drawn last: the other draws keep seeds)
        slope = rng.normal(0, 0.01, (n_ant, 2)) + 1j * rng.normal(0, 0.01, (n_ant, 2))
        x = 2 * (freqs - freqs.min()) / max(np.ptp(freqs), 1.0) - 1  # (n_spw, n_chan)
        leakage += slope * x[:, :, None, None]
    return Truth(
        basis=opts.feed, terms=tuple(t for t in TERMS if t in on), times=times,
        time_field=time_field, freqs=freqs, gains=gains, bandpass=bandpass, delays=delays,
        leakage=leakage, xf_phase=xf_phase, kcross_delay=kcross_delay,
        chi=chi, sigma=_sigma(opts, fields, freqs), fields=fields,
        options={k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(opts).items()},
    )


def _sigma(opts, fields, freqs) -> float:
    if not np.isfinite(opts.snr):
        return 0.0
    phase_cal = PointSource(**fields[1]["true"][0])
    return float(phase_cal.flux(freqs[0, :1])[0, 0] / opts.snr)


def _chunk(opts, truth, fields, tslots, ant1, ant2, uvw_ant, time_scan, slots, seed, rng):
    """Main-table columns of the rows of time slots `tslots`: time-major, then SPW, then
    baseline."""
    n_t, n_bl, n_spw, n_chan = len(tslots), len(ant1), opts.n_spw, opts.n_chan
    shape = (n_t, n_spw, n_bl)
    t_idx = np.broadcast_to(tslots[:, None, None], shape).ravel()
    a1 = np.broadcast_to(ant1[None, None, :], shape).ravel()
    a2 = np.broadcast_to(ant2[None, None, :], shape).ravel()
    spw = np.broadcast_to(np.arange(n_spw)[None, :, None], shape).ravel()
    field_id = truth.time_field[t_idx]
    uvw = uvw_ant[t_idx, a1] - uvw_ant[t_idx, a2]
    n_row = len(t_idx)
    data = np.zeros((n_row, n_chan, 2, 2), complex)
    model = np.zeros((n_row, n_chan, 2, 2), complex)
    for s in range(n_spw):
        in_spw = spw == s
        jones = truth.jones(s, tslots)
        for fid, fdef in enumerate(fields):
            rows = np.flatnonzero(in_spw & (field_id == fid))
            if rows.size == 0:
                continue
            true_vis = _predict(fdef["true"], fdef, uvw[rows], truth.freqs[s], opts.feed)
            model[rows] = _predict(fdef["model"], fdef, uvw[rows], truth.freqs[s], opts.feed)
            corrupted = np.empty_like(true_vis)
            rime.sandwich(jones, true_vis, t_idx[rows] - tslots[0], a1[rows], a2[rows], corrupted)
            data[rows] = corrupted
    if truth.sigma > 0:
        rime.add_noise(data, truth.sigma, seed)
    flag = np.zeros((n_row, n_chan, len(slots)), bool)
    if opts.rfi_fraction > 0:
        hit = rng.random((n_row, n_chan)) < opts.rfi_fraction
        data[hit] += 100.0 * max(truth.sigma, 0.1) * np.exp(2j * np.pi * rng.random((hit.sum(), 1, 1)))
    flag_row = np.isin(a1, opts.flag_ant) | np.isin(a2, opts.flag_ant)
    flag[flag_row] = True
    weight = 1.0 / truth.sigma**2 if truth.sigma > 0 else 1.0
    flat = lambda m: m.reshape(n_row, n_chan, 4)[..., slots]  # noqa: E731
    times = truth.times[t_idx]
    return {
        "TIME": times, "TIME_CENTROID": times, "INTERVAL": np.full(n_row, opts.integration),
        "EXPOSURE": np.full(n_row, opts.integration), "ANTENNA1": a1, "ANTENNA2": a2,
        "FEED1": np.zeros(n_row, np.int32), "FEED2": np.zeros(n_row, np.int32),
        "DATA_DESC_ID": spw.astype(np.int32), "FIELD_ID": field_id.astype(np.int32),
        "SCAN_NUMBER": time_scan[t_idx].astype(np.int32), "STATE_ID": field_id.astype(np.int32),
        "ARRAY_ID": np.zeros(n_row, np.int32), "OBSERVATION_ID": np.zeros(n_row, np.int32),
        "PROCESSOR_ID": np.zeros(n_row, np.int32), "UVW": uvw, "FLAG": flag,
        "FLAG_ROW": flag_row, "WEIGHT": np.full((n_row, len(slots)), weight, np.float32),
        "SIGMA": np.full((n_row, len(slots)), weight**-0.5, np.float32),
        "WEIGHT_SPECTRUM": np.full(flag.shape, weight, np.float32),
        "DATA": flat(data).astype(np.complex64), "MODEL_DATA": flat(model).astype(np.complex64),
    }


def _predict(sources, fdef, uvw, freqs, basis) -> np.ndarray:
    """Visibilities (n_row, n_chan, 2, 2) of point sources (dicts of PointSource fields)."""
    return point_visibilities([PointSource(**s) for s in sources], fdef["ra"], fdef["dec"], uvw,
                              freqs, basis)
