"""Jones matrices of the conventions (CONVENTIONS.md), built with numpy.

Receptors 1 and 2 are X, Y (LINEAR) or R, L (CIRCULAR). Full matrices have shape (..., 2, 2);
diagonal terms are built as (..., 2) and expanded with `diagonal`. Delays are in ns,
frequencies in Hz, angles in radians.
"""

from __future__ import annotations

import numpy as np

BASES = ("LINEAR", "CIRCULAR")


def diagonal(diag: np.ndarray) -> np.ndarray:
    """(..., 2) complex -> (..., 2, 2) diagonal matrices."""
    out = np.zeros(diag.shape + (2,), dtype=np.complex128)
    out[..., 0, 0] = diag[..., 0]
    out[..., 1, 1] = diag[..., 1]
    return out


def delay_phasor(delay_ns: np.ndarray, freqs: np.ndarray, ref_freq: float) -> np.ndarray:
    """exp(2 pi i tau (nu - nu0)) for delays (...,) ns and freqs (n_chan,) Hz: (n_chan, ...)."""
    offset = (np.asarray(freqs, float) - ref_freq).reshape((-1,) + (1,) * np.ndim(delay_ns))
    return np.exp(2j * np.pi * np.asarray(delay_ns, float)[None] * 1e-9 * offset)


def leakage(d_pq: np.ndarray, d_qp: np.ndarray) -> np.ndarray:
    """D = [[1, d_pq], [d_qp, 1]] for (...,) complex leakages: (..., 2, 2)."""
    d_pq = np.asarray(d_pq, complex)
    out = np.ones(d_pq.shape + (2, 2), dtype=np.complex128)
    out[..., 0, 1] = d_pq
    out[..., 1, 0] = d_qp
    return out


def parallactic(chi: np.ndarray, basis: str) -> np.ndarray:
    """P for angles chi (...,) rad (parallactic angle plus receptor angle): (..., 2, 2).
    LINEAR [[cos, -sin], [sin, cos]]; CIRCULAR diag(exp(-i chi), exp(i chi))."""
    chi = np.asarray(chi, float)
    out = np.zeros(chi.shape + (2, 2), dtype=np.complex128)
    if basis == "LINEAR":
        out[..., 0, 0] = out[..., 1, 1] = np.cos(chi)
        out[..., 0, 1] = -np.sin(chi)
        out[..., 1, 0] = np.sin(chi)
    elif basis == "CIRCULAR":
        out[..., 0, 0] = np.exp(-1j * chi)
        out[..., 1, 1] = np.exp(1j * chi)
    else:
        raise ValueError(f"feed basis {basis!r} is not one of {BASES}")
    return out


def brightness(stokes: np.ndarray, basis: str) -> np.ndarray:
    """Coherency matrices of Stokes (..., 4) = I, Q, U, V in Jy: (..., 2, 2) complex.
    LINEAR [[I+Q, U+iV], [U-iV, I-Q]]; CIRCULAR [[I+V, Q+iU], [Q-iU, I-V]]."""
    i, q, u, v = (np.asarray(stokes, float)[..., k] for k in range(4))
    out = np.empty(i.shape + (2, 2), dtype=np.complex128)
    if basis == "LINEAR":
        out[..., 0, 0], out[..., 0, 1] = i + q, u + 1j * v
        out[..., 1, 0], out[..., 1, 1] = u - 1j * v, i - q
    elif basis == "CIRCULAR":
        out[..., 0, 0], out[..., 0, 1] = i + v, q + 1j * u
        out[..., 1, 0], out[..., 1, 1] = q - 1j * u, i - v
    else:
        raise ValueError(f"feed basis {basis!r} is not one of {BASES}")
    return out
