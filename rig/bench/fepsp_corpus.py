"""A seeded corpus of synthetic field recordings that spans what real CA1 recordings look like,
with known true slopes, and the accuracy of window placement on it (``docs/analysis.md``).

Ranges (from public recordings of other labs): 10–50 kHz; fiber volleys 5–70 % of the fEPSP,
half of them with a positive rebound 0.5–0.7 ms before the fEPSP onset; troughs 3–8 ms after the
stimulus; 0.3–20 ms of pre-stimulus baseline; artifacts 2–40 mV, saturating the ADC in half the
cases; noise 20–35 µV RMS plus 50/60 Hz pickup ≤ 12 µV; population-spike notches on a quarter of
them; sweep-to-sweep CV 7 %. The true slope of a case is the regression slope of the fEPSP alone
(no volley, artifact or noise) between its 20 % and 60 % points — where an expert measures.

A case is *right* when the mean slope over its sweeps, measured in the windows placed from their
average, is within 10 % of the true slope; every other case must carry a warning (placement not
confident, or the majority of its sweeps flagged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rig import detector
from rig.analysis.results import INVALID_FLAGS
from rig.bench.fepsp_synth import Synth
from rig.detector.landmarks import place_windows
from rig.detector.proposal import average_sweeps

RATES_HZ = (10000.0, 20000.0, 25000.0, 50000.0)


def draw_case(rng: np.random.Generator) -> Synth:
    """One recording's parameters, drawn from the ranges above."""
    while True:
        fs = float(rng.choice(RATES_HZ))
        trough = rng.uniform(3.0, 8.0)
        tau_rise = rng.uniform(0.5, 1.6) * trough / 6.0 + 0.2
        sigma = rng.uniform(0.15, 0.45) * trough / 6.0 + 0.05
        probe = Synth(fs_hz=fs, onset_ms=0.0, tau_rise_ms=tau_rise, rise_sigma_ms=sigma,
                      tau_decay_ms=rng.uniform(10.0, 17.0))
        onset = trough - probe.true_peak_ms()
        lead = rng.uniform(0.5, 1.1)  # volley trough → fEPSP onset
        volley_ms = onset + 2.0 * sigma - lead
        if 1.0 <= volley_ms <= 2.6 and onset > 0.6:
            break
    amp = -rng.uniform(0.2, 2.0)
    volley = amp * rng.uniform(0.05, 0.7)
    rebound = -volley * rng.uniform(0.3, 0.8) if rng.random() < 0.5 else 0.0
    clipped = rng.random() < 0.5
    pop = amp * rng.uniform(0.15, 0.5) if rng.random() < 0.25 else 0.0
    return probe.with_(
        onset_ms=onset, amplitude_mV=amp, volley_mV=volley, volley_ms=volley_ms,
        volley_sigma_ms=rng.uniform(0.15, 0.3), rebound_mV=rebound, rebound_delay_ms=min(0.5, lead * 0.6),
        pre_ms=float(rng.uniform(0.3, 20.0)), post_ms=40.0,
        artifact_mV=rng.uniform(2.0, 40.0) * (1 if rng.random() < 0.8 else -1),
        artifact_tau_ms=rng.uniform(0.04, 0.1), clip_mV=4.0 if clipped else None,
        pop_spike_mV=pop, pop_spike_ms=trough + rng.uniform(0.8, 3.0), pop_spike_sigma_ms=0.25,
        noise_uV=rng.uniform(20.0, 35.0), hum_uV=rng.uniform(0.0, 12.0),
        hum_hz=float(rng.choice([50.0, 60.0])), hum_phase=rng.uniform(0, 2 * math.pi),
    )


def true_slope(s: Synth) -> float:
    """Regression slope (mV/ms) of the fEPSP alone between its 20 % and 60 % points."""
    t = np.arange(s.onset_ms - 1.0, s.true_peak_ms(), 1000.0 / s.fs_hz)
    z = s.fepsp(t) / s.amplitude_mV
    top = int(np.argmax(z))
    t20 = float(np.interp(0.2, z[: top + 1], t[: top + 1]))
    t60 = float(np.interp(0.6, z[: top + 1], t[: top + 1]))
    sel = (t >= t20) & (t <= t60)
    return float(np.polyfit(t[sel], s.fepsp(t[sel]), 1)[0])


@dataclass(frozen=True)
class CaseResult:
    synth: Synth
    true_mV_per_ms: float
    measured_mV_per_ms: float | None
    confident: bool
    flagged: int
    sweeps: int
    message: str

    @property
    def error(self) -> float:
        if self.measured_mV_per_ms is None:
            return math.inf
        return abs(self.measured_mV_per_ms / self.true_mV_per_ms - 1.0)

    @property
    def warned(self) -> bool:
        return not self.confident or self.flagged * 2 > self.sweeps


def run_case(s: Synth, seed: int, n_sweeps: int = 10, cv: float = 0.07) -> CaseResult:
    """Make ``n_sweeps`` sweeps of the case, place windows on their average, measure every sweep."""
    rng = np.random.default_rng(seed)
    sweeps = [s.with_(seed=int(seed * 1000 + i), amplitude_mV=s.amplitude_mV * (1 + cv * rng.standard_normal()))
              for i in range(n_sweeps)]
    traces = [w.trace() for w in sweeps]
    truth = float(np.mean([true_slope(w) for w in sweeps]))
    avg, stim = average_sweeps(traces, s.stim_index, n_sweeps)
    pl = place_windows(avg, stim, s.fs_hz)
    vals, flagged = [], 0
    for tr in traces:
        r = detector.measure(tr, s.stim_index, s.fs_hz, pl.windows, s.clip_mV)[0]
        if int(r["flags"]) & INVALID_FLAGS or not math.isfinite(r["slope_mV_per_ms"]):
            flagged += 1
        else:
            vals.append(float(r["slope_mV_per_ms"]))
    meas = float(np.mean(vals)) if vals else None
    return CaseResult(s, truth, meas, pl.ok, flagged, n_sweeps, pl.message)


def accuracy(n_cases: int = 200, seed: int = 15) -> dict:
    """Fraction of cases within 10 % of the true slope, and whether the rest were warned."""
    rng = np.random.default_rng(seed)
    res = [run_case(draw_case(rng), seed * 100000 + i) for i in range(n_cases)]
    right = [r.error <= 0.10 for r in res]
    wrong_unwarned = [r for r, ok in zip(res, right, strict=True) if not ok and not r.warned]
    errs = np.array([r.error for r in res if math.isfinite(r.error)])
    return {
        "cases": n_cases,
        "within_10_percent": float(np.mean(right)),
        "warned": int(sum(r.warned for r in res)),
        "wrong_without_warning": len(wrong_unwarned),
        "median_error": float(np.median(errs)) if errs.size else None,
        "p95_error": float(np.percentile(errs, 95)) if errs.size else None,
        "results": res,
    }
