"""The I/O view's Boltzmann fit (pure numpy)."""

from __future__ import annotations

import numpy as np


def fit_io_curve(intensity_uA: np.ndarray, response: np.ndarray,
                 n_grid: int = 40) -> tuple[np.ndarray, np.ndarray] | None:
    """Boltzmann fit ``r = rmax / (1 + exp((i50 - i) / k))`` by grid search over (i50, k)
    with rmax by linear least squares. Returns a smooth (intensity µA, response) curve, or None
    with fewer than 4 finite points."""
    x = np.asarray(intensity_uA, dtype=np.float64)
    y = np.asarray(response, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 4 or np.ptp(x) == 0:
        return None
    lo, hi = float(x.min()), float(x.max())
    span = hi - lo
    i50s = np.linspace(lo - 0.25 * span, hi + 0.25 * span, n_grid)[:, None, None]
    ks = np.geomspace(span / 100, span, n_grid)[None, :, None]
    g = 1.0 / (1.0 + np.exp(np.clip((i50s - x[None, None, :]) / ks, -50, 50)))
    gg = (g * g).sum(-1)
    rmax = np.where(gg > 0, (g * y).sum(-1) / np.where(gg > 0, gg, 1), 0.0)
    sse = ((rmax[..., None] * g - y) ** 2).sum(-1)
    a, b = np.unravel_index(int(np.argmin(sse)), sse.shape)
    xs = np.linspace(lo, hi, 100)
    curve = rmax[a, b] / (1.0 + np.exp(np.clip((i50s[a, 0, 0] - xs) / ks[0, b, 0], -50, 50)))
    return xs, curve
