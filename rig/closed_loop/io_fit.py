"""I/O curve → test intensity: Boltzmann fit, pop-spike threshold, the protocol's rule.

Responses are fEPSP slope *magnitudes* (mV/ms, ≥ 0): the fEPSP slope is negative, the fit is of
``-slope``. Intensities in µA. Boltzmann: ``v(I) = vmax / (1 + exp(-(I - i50) / k))``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import curve_fit


def boltzmann(i_uA: np.ndarray, vmax: float, i50_uA: float, k_uA: float) -> np.ndarray:
    """Boltzmann sigmoid (same unit as ``vmax``)."""
    return vmax / (1.0 + np.exp(-(np.asarray(i_uA, dtype=float) - i50_uA) / k_uA))


@dataclass(frozen=True)
class IOFit:
    """A fitted I/O curve: ``vmax`` (mV/ms), ``i50_uA`` and ``k_uA`` (µA), ``r2``; ``ok`` False if
    the fit failed or is not a rising sigmoid inside the tested range."""

    vmax: float
    i50_uA: float
    k_uA: float
    r2: float
    ok: bool
    message: str = ""

    def intensity_for_fraction(self, fraction: float) -> float:
        """Intensity (µA) giving ``fraction`` (0..1, exclusive) of the fitted maximum."""
        return self.i50_uA - self.k_uA * math.log(1.0 / fraction - 1.0)

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def fit_boltzmann(intensity_uA: np.ndarray, response: np.ndarray) -> IOFit:
    """Least-squares Boltzmann fit of ``response`` (≥ 0, e.g. −slope) vs ``intensity_uA``."""
    x = np.asarray(intensity_uA, dtype=float)
    y = np.asarray(response, dtype=float)
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    if x.size < 4 or np.unique(x).size < 4:
        return IOFit(math.nan, math.nan, math.nan, math.nan, False, "fewer than 4 distinct intensities")
    lo, hi = float(x.min()), float(x.max())
    span = max(hi - lo, 1e-9)
    ymax = float(np.max(y))
    if ymax <= 0:
        return IOFit(math.nan, math.nan, math.nan, math.nan, False, "no response at any intensity")
    # start: half-maximum crossing of the per-intensity means
    xs = np.unique(x)
    means = np.array([np.mean(y[x == v]) for v in xs])
    half = np.flatnonzero(means >= 0.5 * means.max())
    i50_0 = float(xs[half[0]]) if half.size else 0.5 * (lo + hi)
    p0 = (float(means.max()), i50_0, span / 8)
    bounds = ([0.0, lo - 2 * span, span / 200], [10 * ymax, hi + 2 * span, 2 * span])
    try:
        popt, _ = curve_fit(boltzmann, x, y, p0=p0, bounds=bounds, maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        return IOFit(math.nan, math.nan, math.nan, math.nan, False, f"fit failed: {exc}")
    vmax, i50, k = (float(v) for v in popt)
    resid = y - boltzmann(x, vmax, i50, k)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else math.nan
    ok, msg = True, ""
    if not (r2 >= 0.8):
        ok, msg = False, f"poor fit (R² {r2:.2f})"
    elif not lo - span <= i50 <= hi + span:
        ok, msg = False, f"half-maximum {i50:.0f} µA far outside the tested range {lo:.0f}–{hi:.0f} µA"
    return IOFit(vmax, i50, k, r2, ok, msg)


def pop_spike_threshold(intensity_uA: np.ndarray, pop_spike_mV: np.ndarray, min_fraction: float = 0.5) -> float | None:
    """Lowest tested intensity (µA) at which a population spike appears in ≥ ``min_fraction`` of
    the sweeps and at every higher tested intensity. ``pop_spike_mV`` ≤ 0, 0 = no spike (detector
    convention); None when no spike is seen."""
    x = np.asarray(intensity_uA, dtype=float)
    ps = np.asarray(pop_spike_mV, dtype=float)
    xs = np.unique(x[np.isfinite(x)])
    has = np.array([np.mean(np.nan_to_num(ps[x == v], nan=0.0) < 0.0) >= min_fraction for v in xs], dtype=bool)
    if not has.any():
        return None
    # first intensity from which the spike is there all the way up
    for j in range(xs.size):
        if has[j:].all():
            return float(xs[j])
    return None


@dataclass(frozen=True)
class IntensityChoice:
    """The chosen test intensity (µA) and how it was reached."""

    intensity_uA: float
    raw_uA: float
    rule: str
    reason: str
    clamped: bool


def quantize(i_uA: float, resolution_uA: float, lo_uA: float, hi_uA: float) -> tuple[float, bool]:
    """Round to the isolator's resolution, then clamp into [lo, hi] (on the resolution grid)."""
    q = round(i_uA / resolution_uA) * resolution_uA
    lo_q = math.ceil(lo_uA / resolution_uA - 1e-9) * resolution_uA
    hi_q = math.floor(hi_uA / resolution_uA + 1e-9) * resolution_uA
    c = min(max(q, lo_q), hi_q)
    return float(round(c, 9)), c != q


def choose_intensity(
    fit: IOFit,
    rule: dict,
    pop_threshold_uA: float | None,
    *,
    resolution_uA: float = 1.0,
    min_uA: float = 1.0,
    max_uA: float = 1000.0,
) -> IntensityChoice | None:
    """Apply the protocol's rule; None when neither the rule nor its fallback can be applied.

    Rules: ``{"rule": "percent_of_max", "percent": 40}`` (the intensity giving that percentage of
    the fitted maximum slope) or ``{"rule": "below_pop_spike", "margin_percent": 10}`` (that far
    below the pop-spike threshold; without a spike it falls back to ``fallback_percent`` of max,
    default 50 %).
    """
    name = rule.get("rule", "percent_of_max")
    raw: float | None = None
    reason = ""
    if name == "below_pop_spike" and pop_threshold_uA is not None:
        margin = float(rule.get("margin_percent", 10.0))
        raw = pop_threshold_uA * (1.0 - margin / 100.0)
        reason = f"{margin:g} % below the pop-spike threshold {pop_threshold_uA:g} µA"
    else:
        key = "percent" if name == "percent_of_max" else "fallback_percent"
        pct = float(rule.get(key, 40.0 if key == "percent" else 50.0))
        if fit.ok and 0.0 < pct < 100.0:
            raw = fit.intensity_for_fraction(pct / 100.0)
            reason = f"{pct:g} % of the fitted maximum {fit.vmax:.3f} mV/ms"
            if name == "below_pop_spike":
                reason += " (no pop spike seen: fallback)"
            if pop_threshold_uA is not None and raw >= pop_threshold_uA:
                reason += f"; above the pop-spike threshold {pop_threshold_uA:g} µA"
    if raw is None or not math.isfinite(raw):
        return None
    uA, clamped = quantize(raw, resolution_uA, min_uA, max_uA)
    if clamped:
        reason += f"; clamped to the rig limits {min_uA:g}–{max_uA:g} µA"
    return IntensityChoice(uA, float(raw), name, reason, clamped)
