"""Helpers for solve tests: writing configs, truth at solution times, referenced comparisons."""

from __future__ import annotations

import numpy as np
import yaml

from alakazam.engine.simulate.truth import Truth


def write_config(path, **solve) -> str:
    """A config with one solve block; returns its path."""
    with open(path, "w") as fh:
        yaml.safe_dump({"solve": [solve]}, fh)
    return str(path)


def truth_gains_at(truth: Truth, times: np.ndarray) -> np.ndarray:
    """True G (n_t, n_ant, 2) at `times`, linear in real and imaginary parts."""
    g = truth.gains.reshape(len(truth.times), -1)
    out = np.stack([np.interp(times, truth.times, g[:, k].real)
                    + 1j * np.interp(times, truth.times, g[:, k].imag) for k in range(g.shape[1])],
                   axis=-1)
    return out.reshape((len(times),) + truth.gains.shape[1:])


def referenced(g: np.ndarray, ref: int = 0) -> np.ndarray:
    """Gains (..., n_ant, 2) with antenna `ref`'s phase removed per receptor."""
    r = g[..., ref:ref + 1, :]
    return g * np.conj(r) / np.abs(r)


def amp_phase_errors(solved: np.ndarray, true: np.ndarray):
    """Fractional amplitude error and phase error (deg) of solved vs true gains."""
    ratio = solved / true
    return np.abs(np.abs(ratio) - 1), np.degrees(np.abs(np.angle(ratio)))
