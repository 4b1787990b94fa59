"""Checks of an HMM's parameters, fitted or set by hand, and the covariance floor.

hmmlearn lets a user define an HMM by hand (``startprob_``, ``transmat_`` and the emission's
parameters) and score, decode or sample it without ``fit``; genlearn does too, and validates
those parameters first, so a row that does not sum to 1 or a covariance that is not positive
definite is a ``ValueError`` naming the parameter, not a NaN or a linear-algebra traceback.
"""

from __future__ import annotations

import numpy as np


def check_chain(startprob, transmat, K: int) -> None:
    """``startprob_`` (K,) and ``transmat_`` (K, K): probabilities summing to 1 (per row)."""
    check_stochastic(startprob, "startprob_", (K,))
    check_stochastic(transmat, "transmat_", (K, K))


def checked_array(value, name: str, shape: tuple) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` with finite entries, or a ``ValueError``."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_stochastic(value, name: str, shape: tuple) -> None:
    """Probabilities of ``shape`` whose last axis is non-negative and sums to 1."""
    arr = checked_array(value, name, shape)
    bad = np.flatnonzero(~np.isclose(arr.sum(-1), 1.0, atol=1e-8).reshape(-1)
                         | np.any(arr < 0, axis=-1).reshape(-1))
    if bad.size:
        row = arr.reshape(-1, arr.shape[-1])[bad[0]] if arr.ndim > 1 else arr
        where = f"row {bad[0]} " if arr.ndim > 1 else ""
        raise ValueError(f"{name} must be non-negative and sum to 1; {where}sums to "
                         f"{row.sum():.6g}" + (" with a negative entry" if np.any(row < 0)
                                               else ""))


def check_covars(value, shape: tuple, covariance_type: str) -> None:
    arr = checked_array(value, f"covars_ ({covariance_type})", shape)
    if covariance_type in ("diag", "spherical"):
        if np.any(arr <= 0):
            raise ValueError(f"covars_ ({covariance_type}) must be positive")
        return
    if not np.allclose(arr, np.swapaxes(arr, -1, -2)):
        raise ValueError(f"covars_ ({covariance_type}) must be symmetric")
    if np.linalg.eigvalsh(arr).min() <= 0:
        raise ValueError(f"covars_ ({covariance_type}) must be positive definite")


def floor_eigenvalues(cov: np.ndarray, low: float) -> np.ndarray:
    """Symmetric matrices (..., D, D) with every eigenvalue raised to at least ``low``.

    Matrices already so are returned bit for bit (so a well-conditioned fit matches hmmlearn,
    which applies no such floor); the others are rebuilt from their clipped eigenvalues.
    """
    D = cov.shape[-1]
    flat = np.asarray(cov, dtype=np.float64).reshape(-1, D, D)
    bad = np.linalg.eigvalsh(flat).min(-1) < low
    if not bad.any():
        return cov
    flat = flat.copy()
    sym = 0.5 * (flat[bad] + np.swapaxes(flat[bad], -1, -2))
    w, V = np.linalg.eigh(sym)
    flat[bad] = (V * np.maximum(w, low)[:, None, :]) @ np.swapaxes(V, -1, -2)
    return flat.reshape(cov.shape)
