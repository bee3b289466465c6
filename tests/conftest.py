"""Shared fixtures: small simulated Measurement Sets, written once per test session."""

from __future__ import annotations

import math

import pytest

from alakazam.engine.simulate.simulate import SimOptions, simulate


def _make(tmp_path_factory, name, **options):
    path = str(tmp_path_factory.mktemp(name) / f"{name}.ms")
    truth = simulate(path, SimOptions(**options))
    return path, truth


@pytest.fixture(scope="session")
def linear_ms(tmp_path_factory):
    """VLA-like, LINEAR, all four correlations, every Jones term, noiseless."""
    return _make(tmp_path_factory, "linear", snr=math.inf)


@pytest.fixture(scope="session")
def circular_ms(tmp_path_factory):
    """MeerKAT-like layout with CIRCULAR feeds, all four correlations, noiseless."""
    return _make(tmp_path_factory, "circular", array="meerkat", feed="CIRCULAR", snr=math.inf,
                 n_ant=6, n_chan=8)


@pytest.fixture(scope="session")
def noisy_ms(tmp_path_factory):
    """Parallel hands only, noise at SNR 10, antenna 3 flagged, autocorrelations written."""
    return _make(tmp_path_factory, "noisy", corr="parallel", terms=("K", "G", "B"), snr=10.0,
                 flag_ant=(3,), autocorr=True, n_ant=8, duration=1800.0)
