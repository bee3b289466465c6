"""Flux-density standards of the primary calibrators, from the published coefficients.

log10 S[Jy] = sum_k a_k (log10 nu)^k with nu in GHz (Perley & Butler) or MHz (Reynolds).

  perley-butler-2017     Perley & Butler 2017, ApJS 230, 7, Table 6 (20 sources, 50 MHz-50 GHz)
  perley-butler-2013     Perley & Butler 2013, ApJS 204, 19 (3C123, 3C196, 3C286, 3C295 steady;
                         3C48, 3C138, 3C147 fitted per epoch, Table 10)
  stevens-reynolds-2016  PKS 1934-638: Reynolds (1994) below 11 GHz (Stevens' polynomial above
                         11 GHz is not included)

The variable sources (3C48, 3C138, 3C147) take the coefficients of the epoch nearest the
observation (as CASA's setjy does by default); Perley-Butler 2017 adds its own fit as epoch
2017.0 to the 2013 epochs. 3C286's linear polarisation (fraction and position angle vs
frequency) is from Perley & Butler 2013, ApJS 206, 16, Table 4, interpolated linearly.

Sources are recognised by name (the usual aliases, `1331+305=3C286` style names and suffixes
such as `1331+30500002_0`) or by position within MATCH_RADIUS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alakazam.engine.errors import InputError

MATCH_RADIUS = np.radians(5.0 / 3600)  # rad: a field this close to a calibrator is that calibrator


@dataclass(frozen=True)
class Calibrator:
    """A flux calibrator: canonical name, aliases, J2000 position (rad)."""

    name: str
    aliases: tuple[str, ...]
    ra: float
    dec: float


def _pos(ra: str, dec: str) -> tuple[float, float]:
    """'hh:mm:ss.s', '+dd:mm:ss.s' -> (ra, dec) rad."""
    h, m, s = (float(v) for v in ra.split(":"))
    sign = -1.0 if dec.strip().startswith("-") else 1.0
    d, dm, ds = (abs(float(v)) for v in dec.split(":"))
    return np.radians(15 * (h + m / 60 + s / 3600)), sign * np.radians(d + dm / 60 + ds / 3600)


CALIBRATORS = {c.name: c for c in (
    Calibrator("3C48", ("0134+329", "0137+331", "J0137+3309"), *_pos("01:37:41.2994", "+33:09:35.133")),
    Calibrator("3C123", ("0433+295", "0437+296", "J0437+2940"), *_pos("04:37:04.3753", "+29:40:13.819")),
    Calibrator("3C138", ("0518+165", "0521+166", "J0521+1638"), *_pos("05:21:09.8860", "+16:38:22.051")),
    Calibrator("3C147", ("0538+498", "0542+498", "J0542+4951"), *_pos("05:42:36.1379", "+49:51:07.234")),
    Calibrator("3C196", ("0809+483", "0813+482", "J0813+4813"), *_pos("08:13:36.0561", "+48:13:02.636")),
    Calibrator("3C286", ("1328+307", "1331+305", "J1331+3030"), *_pos("13:31:08.2881", "+30:30:32.959")),
    Calibrator("3C295", ("1409+524", "1411+522", "J1411+5212"), *_pos("14:11:20.519", "+52:12:09.97")),
    Calibrator("3C380", ("1828+487", "1829+487", "J1829+4845"), *_pos("18:29:31.7809", "+48:44:46.161")),
    Calibrator("1934-638", ("PKS1934-638", "B1934-638", "1934-63", "J1939-6342"),
               *_pos("19:39:25.026", "-63:42:45.63")),
    Calibrator("J0133-3629", (), *_pos("01:33:57.0", "-36:29:35")),
    Calibrator("FORNAXA", ("FORNAX", "J0322-3712"), *_pos("03:22:41.7", "-37:12:30")),
    Calibrator("J0444-2809", (), *_pos("04:44:37.7", "-28:09:54")),
    Calibrator("PICTORA", ("PICTOR", "J0519-4546"), *_pos("05:19:49.7", "-45:46:44")),
    Calibrator("TAURUSA", ("3C144", "CRAB", "J0534+2200"), *_pos("05:34:31.94", "+22:00:52.2")),
    Calibrator("HYDRAA", ("3C218", "J0918-1205"), *_pos("09:18:05.65", "-12:05:43.9")),
    Calibrator("VIRGOA", ("3C274", "M87", "J1230+1223"), *_pos("12:30:49.42", "+12:23:28.0")),
    Calibrator("HERCULESA", ("3C348", "J1651+0459"), *_pos("16:51:08.15", "+04:59:33.3")),
    Calibrator("3C353", ("J1720-0059",), *_pos("17:20:28.15", "-00:58:47.1")),
    Calibrator("CYGNUSA", ("3C405", "J1959+4044"), *_pos("19:59:28.36", "+40:44:02.1")),
    Calibrator("3C444", ("J2214-1701",), *_pos("22:14:25.75", "-17:01:36.3")),
    Calibrator("CASSIOPEIAA", ("CASA", "3C461", "J2323+5848"), *_pos("23:23:24.0", "+58:48:54")),
)}

# Perley & Butler 2013, Table 10: epoch (year) and coefficients of the variable sources.
_PB2013_EPOCHS = (1983.4, 1985.9, 1987.3, 1989.9, 1995.2, 1998.1, 1999.3, 2000.8, 2001.9, 2003.1,
                  2004.7, 2006.0, 2007.4, 2008.7, 2010.0, 2010.9, 2012.0)
_PB2013_VARIABLE = {
    "3C48": ((1.3339, -0.7643, -0.1946, 0.055), (1.3350, -0.7598, -0.1869, 0.057),
             (1.3361, -0.7577, -0.1905, 0.048), (1.3363, -0.7605, -0.1965, 0.057),
             (1.3359, -0.7673, -0.2041, 0.059), (1.3342, -0.7732, -0.2078, 0.065),
             (1.3342, -0.7682, -0.2097, 0.056), (1.3323, -0.7654, -0.2091, 0.060),
             (1.3342, -0.7708, -0.2014, 0.059), (1.3341, -0.7691, -0.2006, 0.057),
             (1.3341, -0.7641, -0.2102, 0.059), (1.3335, -0.7705, -0.2008, 0.058),
             (1.3335, -0.7660, -0.1982, 0.051), (1.3361, -0.7700, -0.2119, 0.076),
             (1.3334, -0.7662, -0.1988, 0.062), (1.3332, -0.7665, -0.1980, 0.064),
             (1.3324, -0.7690, -0.1950, 0.059)),
    "3C138": ((1.0328, -0.5523, -0.1161, 0.008), (1.0337, -0.5591, -0.1605, 0.032),
              (1.0354, -0.5914, -0.1032, -0.005), (1.0292, -0.5636, -0.1857, 0.052),
              (1.0145, -0.5466, -0.1758, 0.038), (1.0259, -0.5679, -0.1735, 0.039),
              (1.0204, -0.5702, -0.1636, 0.030), (1.0081, -0.5077, -0.2492, 0.064),
              (1.0196, -0.5627, -0.1823, 0.039), (1.0177, -0.5686, -0.1591, 0.029),
              (1.0094, -0.5003, -0.2642, 0.085), (1.0181, -0.5543, -0.1486, 0.038),
              (1.0149, -0.5408, -0.1174, 0.012), (1.0132, -0.4941, -0.1556, 0.045),
              (1.0230, -0.4983, -0.1529, 0.048), (1.0207, -0.5140, -0.1626, 0.058),
              (1.0332, -0.5608, -0.1197, 0.041)),
    "3C147": ((1.4620, -0.7085, -0.2347, 0.051), (1.4648, -0.7177, -0.2501, 0.089),
              (1.4624, -0.7115, -0.2336, 0.071), (1.4646, -0.7194, -0.2532, 0.092),
              (1.4632, -0.7121, -0.2346, 0.086), (1.4641, -0.7090, -0.2313, 0.088),
              (1.4642, -0.7132, -0.2424, 0.082), (1.4585, -0.7086, -0.2296, 0.068),
              (1.4636, -0.7124, -0.2426, 0.084), (1.4639, -0.7144, -0.2453, 0.082),
              (1.4635, -0.7112, -0.2453, 0.091), (1.4631, -0.7136, -0.2338, 0.094),
              (1.4645, -0.7115, -0.2378, 0.084), (1.4625, -0.7112, -0.2396, 0.081),
              (1.4623, -0.7139, -0.2405, 0.081), (1.4607, -0.7150, -0.2372, 0.077),
              (1.4616, -0.7187, -0.2424, 0.079)),
}
_PB2017 = {  # Table 6: coefficients and validity (GHz)
    "J0133-3629": ((1.0440, -0.6619, -0.2252), (0.2, 4)),
    "3C48": ((1.3253, -0.7553, -0.1914, 0.0498), (0.05, 50)),
    "FORNAXA": ((2.2175, -0.6606), (0.2, 0.5)),
    "3C123": ((1.8017, -0.7884, -0.1035, -0.0248, 0.0090), (0.06, 50)),
    "J0444-2809": ((0.9710, -0.8938, -0.1176), (0.2, 2)),
    "3C138": ((1.0088, -0.4981, -0.1552, -0.0102, 0.0223), (0.2, 50)),
    "PICTORA": ((1.9380, -0.7470, -0.0739), (0.2, 4)),
    "TAURUSA": ((2.9516, -0.2173, -0.0473, -0.0674), (0.05, 4)),
    "3C147": ((1.4516, -0.6961, -0.2007, 0.0640, -0.0464, 0.0289), (0.05, 50)),
    "3C196": ((1.2872, -0.8530, -0.1534, -0.0200, 0.0201), (0.05, 50)),
    "HYDRAA": ((1.7795, -0.9176, -0.0843, -0.0139, 0.0295), (0.05, 12)),
    "VIRGOA": ((2.4466, -0.8116, -0.0483), (0.05, 3)),
    "3C286": ((1.2481, -0.4507, -0.1798, 0.0357), (0.05, 50)),
    "3C295": ((1.4701, -0.7658, -0.2780, -0.0347, 0.0399), (0.05, 50)),
    "HERCULESA": ((1.8298, -1.0247, -0.0951), (0.2, 12)),
    "3C353": ((1.8627, -0.6938, -0.0998, -0.0732), (0.2, 4)),
    "3C380": ((1.2320, -0.7909, 0.0947, 0.0976, -0.1794, -0.1566), (0.05, 4)),
    "CYGNUSA": ((3.3498, -1.0022, -0.2246, 0.0227, 0.0425), (0.05, 12)),
    "3C444": ((1.1064, -1.0052, -0.0750, -0.0767), (0.2, 12)),
    "CASSIOPEIAA": ((3.3584, -0.7518, -0.0347, -0.0705), (0.2, 4)),
}
_PB2013_STEADY = {
    "3C123": (1.8077, -0.8018, -0.1157), "3C196": (1.2969, -0.8690, -0.1788, 0.0305),
    "3C286": (1.2515, -0.4605, -0.1715, 0.0336), "3C295": (1.4866, -0.7871, -0.3440, 0.0749),
}


@dataclass(frozen=True)
class Spectrum:
    """log10 S = sum_k coeffs[k] log10(nu / unit_hz)^k, valid over [fmin, fmax] Hz; epochs
    (years) with one coefficient tuple each when the source varies (else coeffs alone)."""

    coeffs: tuple
    unit_hz: float
    fmin: float
    fmax: float
    epochs: tuple = ()
    epoch_coeffs: tuple = ()

    def at(self, freqs: np.ndarray, year: float) -> np.ndarray:
        """Stokes I (n,) Jy at freqs (n,) Hz for an observation in decimal `year`."""
        coeffs = self.coeffs
        if self.epochs:
            coeffs = self.epoch_coeffs[int(np.argmin(np.abs(np.asarray(self.epochs) - year)))]
        x = np.log10(np.asarray(freqs, float) / self.unit_hz)
        return 10.0 ** np.polynomial.polynomial.polyval(x, coeffs)


def _standards() -> dict[str, dict[str, Spectrum]]:
    ghz = 1e9
    pb17 = {name: Spectrum(c, ghz, lo * ghz, hi * ghz) for name, (c, (lo, hi)) in _PB2017.items()}
    pb13 = {name: Spectrum(c, ghz, 1 * ghz, 50 * ghz) for name, c in _PB2013_STEADY.items()}
    for name, table in _PB2013_VARIABLE.items():
        pb13[name] = Spectrum(table[-1], ghz, 1 * ghz, 50 * ghz, _PB2013_EPOCHS, table)
        latest = pb17[name]
        pb17[name] = Spectrum(latest.coeffs, ghz, latest.fmin, latest.fmax,
                              _PB2013_EPOCHS + (2017.0,), table + (latest.coeffs,))
    reynolds = {"1934-638": Spectrum((-30.7667, 26.4908, -7.0977, 0.605334), 1e6, 0.408e9, 11e9)}
    return {"perley-butler-2017": pb17, "perley-butler-2013": pb13,
            "stevens-reynolds-2016": reynolds}


STANDARDS = _standards()
DEFAULT_STANDARD = "perley-butler-2017"

# 3C286 (Perley & Butler 2013, ApJS 206, 16): frequency GHz, fractional linear polarisation %,
# position angle deg
_3C286_POL = np.array([
    (1.05, 8.6, 33), (1.45, 9.5, 33), (1.64, 9.9, 33), (1.95, 10.1, 33), (2.45, 10.5, 33),
    (2.95, 10.8, 33), (3.25, 10.9, 33), (3.75, 11.1, 33), (4.50, 11.3, 33), (5.00, 11.4, 33),
    (6.50, 11.6, 33), (7.25, 11.7, 33), (8.10, 11.8, 33), (8.80, 11.8, 33), (12.8, 11.9, 34),
    (13.7, 11.9, 34), (14.6, 12.1, 34), (15.5, 12.2, 34), (18.1, 12.5, 34), (19.0, 12.5, 34),
    (22.4, 12.6, 34), (23.3, 12.6, 34), (36.5, 13.1, 36), (43.5, 13.2, 36)])


def linear_polarisation(source: str, freqs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(fraction (n,), position angle (n,) rad) of `source` at freqs (n,) Hz, or None when the
    standards give it no polarisation (only 3C286 has one; held constant beyond the table)."""
    if source != "3C286":
        return None
    ghz = np.asarray(freqs, float) / 1e9
    frac = np.interp(ghz, _3C286_POL[:, 0], _3C286_POL[:, 1]) / 100
    angle = np.radians(np.interp(ghz, _3C286_POL[:, 0], _3C286_POL[:, 2]))
    return frac, angle


def check_standard(name: str) -> str:
    """The standard's canonical name (case-insensitive, spaces or hyphens), or InputError."""
    key = "-".join(str(name).lower().replace("_", " ").replace("-", " ").split())
    if key not in STANDARDS:
        raise InputError(f"{name!r} is not a flux-density standard ({', '.join(STANDARDS)})")
    return key


def _normalise(name: str) -> str:
    return "".join(str(name).upper().split()).replace("_", "")


def _name_matches(part: str, alias: str) -> bool:
    """Whether a field-name part designates `alias`: equal, or followed by a suffix (a
    position designation such as 1331+305 may carry digits, `1331+30500002`; a 3C number may
    not, so that 3C48 is not 3C480)."""
    if not part.startswith(alias):
        return False
    rest = part[len(alias):]
    return not rest or ("+" in alias or "-" in alias) or not rest[0].isdigit()


def identify(name: str, ra: float, dec: float) -> str | None:
    """The calibrator a field is (by name, then by J2000 position ra, dec rad), or None."""
    parts = [_normalise(p) for p in str(name).split("=") if p.strip()]
    for cal in CALIBRATORS.values():
        names = (cal.name,) + cal.aliases
        if any(_name_matches(part, _normalise(a)) for part in parts for a in names):
            return cal.name
    for cal in CALIBRATORS.values():
        cos_sep = (np.sin(dec) * np.sin(cal.dec)
                   + np.cos(dec) * np.cos(cal.dec) * np.cos(ra - cal.ra))
        if np.arccos(np.clip(cos_sep, -1, 1)) <= MATCH_RADIUS:
            return cal.name
    return None


def stokes(standard: str, source: str, freqs: np.ndarray, year: float,
           polarised: bool = True) -> np.ndarray:
    """Stokes (n, 4) = I, Q, U, V Jy of `source` in `standard` at freqs (n,) Hz in decimal
    `year`; Q, U from linear_polarisation when `polarised`. InputError outside the standard's
    frequency range or for a source it does not hold."""
    spectrum = STANDARDS[standard].get(source)
    if spectrum is None:
        raise InputError(f"{source} has no flux density in {standard} (it holds "
                         f"{', '.join(sorted(STANDARDS[standard]))})")
    freqs = np.asarray(freqs, float)
    if freqs.min() < spectrum.fmin * 0.999 or freqs.max() > spectrum.fmax * 1.001:
        raise InputError(f"{standard} gives {source} from {spectrum.fmin / 1e9:g} to "
                         f"{spectrum.fmax / 1e9:g} GHz; the data reach {freqs.min() / 1e9:.4g}-"
                         f"{freqs.max() / 1e9:.4g} GHz")
    out = np.zeros((len(freqs), 4))
    out[:, 0] = spectrum.at(freqs, year)
    pol = linear_polarisation(source, freqs) if polarised else None
    if pol is not None:
        frac, angle = pol
        out[:, 1] = out[:, 0] * frac * np.cos(2 * angle)
        out[:, 2] = out[:, 0] * frac * np.sin(2 * angle)
    return out


def decimal_year(mjd_seconds: float) -> float:
    """MJD seconds -> decimal year (Julian years from J2000.0)."""
    return 2000.0 + (mjd_seconds / 86400.0 - 51544.5) / 365.25
