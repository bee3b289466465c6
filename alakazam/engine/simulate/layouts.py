"""Antenna layouts for simulated arrays: ITRF positions of VLA-like and MeerKAT-like arrays.

Positions are built in local east/north/up metres around a site and rotated to ITRF.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_WGS84_A = 6378137.0
_WGS84_E2 = (1 / 298.257223563) * (2 - 1 / 298.257223563)


@dataclass(frozen=True)
class Site:
    """name; lon, lat: deg; height: m; dish: diameter m; max_radius: m."""

    name: str
    lon: float
    lat: float
    height: float
    dish: float
    max_radius: float


SITES = {
    "vla": Site("VLA", -107.6184, 34.0790, 2124.0, 25.0, 1000.0),
    "meerkat": Site("MeerKAT", 21.4430, -30.7130, 1038.0, 13.5, 4000.0),
}


def layout(array: str, n_ant: int, seed: int = 0) -> tuple[list[str], np.ndarray, Site]:
    """Antenna names and ITRF positions (n_ant, 3) m of a VLA-like (Y arms, power-law spacing,
    D-configuration-like scale) or MeerKAT-like (dense core plus scattered outer dishes) array."""
    site = SITES[array]
    if array == "vla":
        per_arm = int(np.ceil(n_ant / 3))
        radius = site.max_radius * (np.arange(1, per_arm + 1) / per_arm) ** 1.716
        east, north = [], []
        for azimuth in np.radians([5.0, 125.0, 245.0]):  # arm position angles
            east += list(radius * np.sin(azimuth))
            north += list(radius * np.cos(azimuth))
        order = np.argsort(np.tile(np.arange(per_arm), 3), kind="stable")[:n_ant]
        enu = np.stack([np.array(east)[order], np.array(north)[order], np.zeros(n_ant)], axis=1)
        names = [f"ea{i + 1:02d}" for i in range(n_ant)]
    else:
        rng = np.random.default_rng(seed + 7)
        r = site.max_radius * rng.uniform(0.0, 1.0, n_ant) ** 2.5 + 20.0
        azimuth = rng.uniform(0, 2 * np.pi, n_ant)
        enu = np.stack([r * np.sin(azimuth), r * np.cos(azimuth), rng.normal(0, 2.0, n_ant)], 1)
        names = [f"m{i:03d}" for i in range(n_ant)]
    return names, enu_to_itrf(enu, site), site


def enu_to_itrf(enu: np.ndarray, site: Site) -> np.ndarray:
    """Local east/north/up offsets (n, 3) m around `site` -> ITRF (n, 3) m."""
    lon, lat = np.radians(site.lon), np.radians(site.lat)
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
    centre = np.array([(n + site.height) * np.cos(lat) * np.cos(lon),
                       (n + site.height) * np.cos(lat) * np.sin(lon),
                       (n * (1 - _WGS84_E2) + site.height) * np.sin(lat)])
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    up = np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    return centre + enu[:, :1] * east + enu[:, 1:2] * north + enu[:, 2:3] * up
