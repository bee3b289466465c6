"""Helpers for solve and apply tests: writing configs, truth at solution times, referenced
comparisons, corrected data against the true sky."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from alakazam.engine.msmeta import read_meta
from alakazam.engine.msread import iter_blocks
from alakazam.engine.selection import select
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


def corrected_vs_truth(path, truth, field="TARGET", column="CORRECTED_DATA"):
    """(flux ratio, residual rms, expected noise rms) of the parallel hands of `field`."""
    meta = read_meta(path)
    num = den = resid = expected = 0.0
    n = 0
    for block in iter_blocks(meta, select(meta, field=field), (column,)):
        want = truth.visibilities(block, "true", corrupt=False)[..., [0, 3]]
        got = block.vis[column][..., [0, 3]]
        ok = ~block.flag[..., [0, 3]]
        num += np.sum((got * np.conj(want))[ok]).real
        den += np.sum(np.abs(want[ok]) ** 2)
        resid += np.sum(np.abs(got - want)[ok] ** 2)
        times = np.searchsorted(truth.times, block.time)
        gp = np.abs(truth.gains[times, block.ant1])  # (n_row, 2)
        gq = np.abs(truth.gains[times, block.ant2])
        expected += np.sum((2 * truth.sigma**2 / (gp * gq) ** 2)[:, None, :] * ok)
        n += ok.sum()
    return num / den, np.sqrt(resid / n), np.sqrt(expected / n)


def alakazam(*args, cwd=None) -> subprocess.CompletedProcess:
    """`alakazam ARGS` as a subprocess (output captured as text)."""
    return subprocess.run([sys.executable, "-m", "alakazam", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


#: skip marker of the tests that run CASA itself (an optional reference, never a dependency)
needs_casa = pytest.mark.skipif(importlib.util.find_spec("casatasks") is None,
                                reason="CASA (casatasks, casadata) is not installed")

_CASA_SITE_CONFIG = """
import os, casadata
measurespath = os.path.join(os.path.dirname(casadata.__file__), "__data__")
datapath = [measurespath]
measures_auto_update = False
data_auto_update = False
"""


def run_casa(script: str, folder) -> None:
    """Run a casatasks `script` in a subprocess in `folder`, offline (casadata's measures)."""
    (folder / "casasiteconfig.py").write_text(_CASA_SITE_CONFIG)
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(folder)})
    assert done.returncode == 0, done.stderr[-2000:]
