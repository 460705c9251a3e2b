"""Baseline stability gate: is the normalized fEPSP slope stable enough to induce?

Criterion (per pathway, over the last ``window_min`` minutes of the baseline): the drift of the
slope normalized to its window mean, by linear regression, is below ``max_drift_percent_per_10min``,
and the means of the window's two halves differ by less than ``max_halves_diff_percent`` of the
window mean. Which sweeps are valid and how a slope becomes a percentage are the result's
(:mod:`rig.analysis.results`, which imports only rig.detector: the closed loop may use it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import rig.analysis.results as results

DEFAULT_STABILITY = {"max_drift_percent_per_10min": 5.0, "max_halves_diff_percent": 10.0, "window_min": 20.0}
MIN_POINTS = 6  # per pathway and window


@dataclass(frozen=True)
class GateResult:
    """Verdict for one pathway. Drift in % of the window mean per 10 min; halves in %."""

    stable: bool
    drift_percent_per_10min: float
    halves_diff_percent: float
    n: int
    reason: str

    def to_dict(self) -> dict:
        r = lambda v: None if not math.isfinite(v) else round(v, 3)  # noqa: E731
        return {"stable": self.stable, "drift_pct_10min": r(self.drift_percent_per_10min),
                "halves_pct": r(self.halves_diff_percent), "n": self.n, "reason": self.reason}


def check_stability(t_s: np.ndarray, slope: np.ndarray, now_s: float, criteria: dict | None = None,
                    flags: np.ndarray | None = None) -> GateResult:
    """Judge the points (time s, slope mV/ms, optional measurement flags) of one pathway inside
    [now - window, now]; invalid points (:func:`rig.analysis.results.valid`) are left out."""
    c = {**DEFAULT_STABILITY, **(criteria or {})}
    window_s = float(c["window_min"]) * 60.0
    t = np.asarray(t_s, dtype=float)
    y = np.asarray(slope, dtype=float)
    f = np.zeros(y.shape, np.int64) if flags is None else np.asarray(flags)
    sel = np.isfinite(t) & results.valid(f, y) & (t >= now_s - window_s) & (t <= now_s)
    t, y = t[sel], y[sel]
    n = int(t.size)
    if n < MIN_POINTS:
        return GateResult(False, math.nan, math.nan, n, f"only {n} valid sweeps in the window (need {MIN_POINTS})")
    mean = float(np.mean(y))
    if mean == 0.0 or not math.isfinite(mean):
        return GateResult(False, math.nan, math.nan, n, "no response")
    norm = results.percent_of(y, mean)  # % of the window mean (sign-free: slopes are negative)
    tm = t / 60.0
    drift = float(np.polyfit(tm, norm, 1)[0]) * 10.0  # %/10 min
    mid = now_s - window_s / 2.0
    first, second = norm[t < mid], norm[t >= mid]
    if first.size < 2 or second.size < 2:
        return GateResult(False, drift, math.nan, n, "a half of the window has fewer than 2 sweeps")
    halves = abs(float(np.mean(second) - np.mean(first)))
    ok_d = abs(drift) <= float(c["max_drift_percent_per_10min"])
    ok_h = halves <= float(c["max_halves_diff_percent"])
    reasons = []
    if not ok_d:
        reasons.append(f"drift {drift:+.1f} %/10 min > {c['max_drift_percent_per_10min']:g}")
    if not ok_h:
        reasons.append(f"halves differ by {halves:.1f} % > {c['max_halves_diff_percent']:g}")
    return GateResult(ok_d and ok_h, drift, halves, n, "; ".join(reasons) or "stable")
