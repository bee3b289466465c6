"""Array geometry: geodetic positions, hour angles, parallactic angles and UVW coordinates.

Times are MJD seconds (UTC), positions ITRF metres, angles radians. Hour angle and declination
are apparent (precessed, nutated), from casacore measures at the first time and the sidereal
rate after it; UVW are therefore in the apparent frame of date, which differs from J2000 UVW
by a rotation of a fraction of a degree that no calibration quantity depends on.
"""

from __future__ import annotations

import numpy as np

SIDEREAL_RATE = 2 * np.pi * 1.00273781191135448 / 86400.0  # rad of hour angle per UTC second
_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563


def geodetic(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 longitude, latitude (rad) and height (m) of ITRF positions (..., 3) m."""
    x, y, z = (np.asarray(positions, float)[..., k] for k in range(3))
    e2 = _WGS84_F * (2 - _WGS84_F)
    lon = np.arctan2(y, x)
    rho = np.hypot(x, y)
    lat = np.arctan2(z, rho * (1 - e2))
    for _ in range(6):  # fixed-point iteration converges to < 1e-12 rad at Earth's surface
        n = _WGS84_A / np.sqrt(1 - e2 * np.sin(lat) ** 2)
        height = rho / np.maximum(np.cos(lat), 1e-12) - n
        lat = np.arctan2(z, rho * (1 - e2 * n / (n + height)))
    n = _WGS84_A / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    height = rho / np.maximum(np.cos(lat), 1e-12) - n
    return lon, lat, height


def apparent_hadec(times: np.ndarray, ra: float, dec: float, position: np.ndarray
                   ) -> tuple[np.ndarray, float]:
    """Apparent hour angle (n_t,) rad and declination (rad) of the J2000 direction (ra, dec)
    seen from ITRF `position` (3,) m at MJD-second `times` (n_t,)."""
    from casacore.measures import measures

    times = np.asarray(times, float)
    t0 = float(times.min()) if times.size else 0.0
    dm = measures()
    dm.do_frame(dm.epoch("UTC", f"{t0}s"))
    dm.do_frame(dm.position("ITRF", *(f"{v}m" for v in position)))
    hadec = dm.measure(dm.direction("J2000", f"{ra}rad", f"{dec}rad"), "HADEC")
    ha0, dec_app = hadec["m0"]["value"], hadec["m1"]["value"]
    return ha0 + SIDEREAL_RATE * (times - t0), float(dec_app)


def parallactic_angles(times: np.ndarray, ra: float, dec: float, positions: np.ndarray
                       ) -> np.ndarray:
    """Parallactic angle (n_t, n_ant) rad of each antenna (ITRF positions (n_ant, 3) m)
    towards the J2000 direction (ra, dec) at `times` (n_t,) MJD s."""
    lon, lat, _ = geodetic(positions)
    ref_lon, _, _ = geodetic(np.mean(positions, axis=0))
    ha, dec_app = apparent_hadec(times, ra, dec, np.mean(positions, axis=0))
    h = ha[:, None] + (lon - ref_lon)[None, :]
    return np.arctan2(np.cos(lat) * np.sin(h),
                      np.sin(lat) * np.cos(dec_app) - np.cos(lat) * np.sin(dec_app) * np.cos(h))


def antenna_uvw(times: np.ndarray, ra: float, dec: float, positions: np.ndarray) -> np.ndarray:
    """UVW (n_t, n_ant, 3) m of each antenna's ITRF position (n_ant, 3) relative to the array
    centre, towards the J2000 direction (ra, dec) at `times` (n_t,) MJD s. A baseline's UVW is
    that of ANTENNA1 minus that of ANTENNA2 (the convention of MSv4, VLBI and of the
    Measurement Sets pyuvdata writes; see the README)."""
    centre = np.mean(positions, axis=0)
    ref_lon, _, _ = geodetic(centre)
    ha, dec_app = apparent_hadec(times, ra, dec, centre)
    gha = ha - ref_lon  # hour angle at the Greenwich meridian
    xyz = np.asarray(positions, float) - centre
    sh, ch = np.sin(gha)[:, None], np.cos(gha)[:, None]
    sd, cd = np.sin(dec_app), np.cos(dec_app)
    x, y, z = xyz[None, :, 0], xyz[None, :, 1], xyz[None, :, 2]
    u = sh * x + ch * y
    v = -sd * ch * x + sd * sh * y + cd * z
    w = cd * ch * x - cd * sh * y + sd * z
    return np.stack([u, v, w], axis=-1)
