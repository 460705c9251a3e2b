"""The MEA result, defined once: per electrode % of baseline, which electrodes respond, which
potentiated, and the fraction of responding electrodes that potentiated (MED64 Mobius style).

Each electrode's time course and magnitude come from :func:`rig.analysis.results.pathway_result`
on that electrode's measurements (the one % of baseline: same sweeps, baseline phase, invalid
flags, intensity rule, last 10 min) of the fEPSP slope by ``method`` — by default ``max``, the
steepest 1 ms between the volley and the peak: each electrode's response comes later the further
it lies along the fibres (≈ 0.5 ms per 200 µm), and a fixed regression window would land on the
foot of the distant ones. On top of it (docs/mea.md, "The result"):

- **responding**: the electrode's baseline fEPSP stands out of its noise sweep by sweep — its mean
  baseline slope is negative with a coefficient of variation (SD / |mean| over the valid baseline
  sweeps) of at most ``max_cv`` (0.5), *and* its mean baseline amplitude is negative and at least
  ``k_noise`` (4) × its mean baseline noise (SD of the pre-stimulus window). Stimulating
  electrodes never respond (their artifact saturates them), nor do electrodes without a valid
  baseline (e.g. a positive, reversed field: flagged ``not_fepsp``, invalid);
- **potentiated**: a responding electrode whose magnitude (mean % of baseline of the last
  10 min) exceeds ``potentiated_percent`` (120 %); **depressed**: below ``depressed_percent`` (80 %);
- **fraction potentiated** = potentiated / responding electrodes that have a magnitude (None
  when there is none).

Pure: imports only :mod:`rig.analysis.results` (the display may import it too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rig.analysis.results import PathwayResult
from rig.detector.measurement import SLOPE_FIELD


@dataclass(frozen=True)
class MapSettings:
    """Thresholds of the MEA result (see the module docstring)."""

    potentiated_percent: float = 120.0
    depressed_percent: float = 80.0
    max_cv: float = 0.5
    k_noise: float = 4.0
    method: str = "max"  # slope method (rig.detector.measurement.SLOPE_FIELD)

    @property
    def field(self) -> str:
        return SLOPE_FIELD[self.method]

    def __post_init__(self) -> None:
        if self.method not in SLOPE_FIELD:
            raise ValueError(f"slope method {self.method!r}: one of {', '.join(SLOPE_FIELD)}")
        if not (math.isfinite(self.potentiated_percent) and self.potentiated_percent > 0):
            raise ValueError(f"potentiated threshold must be > 0 %, got {self.potentiated_percent}")
        if not (math.isfinite(self.depressed_percent) and 0 < self.depressed_percent):
            raise ValueError(f"depressed threshold must be > 0 %, got {self.depressed_percent}")
        for name in ("max_cv", "k_noise"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be ≥ 0, got {v}")


DEFAULT_SETTINGS = MapSettings()


@dataclass(frozen=True)
class ElectrodeResult:
    """One electrode's result: its slope result (``slope.magnitude_percent`` is its % of baseline),
    the baseline amplitude and noise it was judged on, and the verdicts."""

    electrode: int
    role: str  # field | recording | stimulating
    slope: PathwayResult
    amplitude_mV: float | None  # mean baseline fEPSP amplitude
    noise_mV: float | None  # mean baseline noise (SD of the pre-stimulus window)
    responding: bool
    why: str  # why it does not respond ("" when it does)
    potentiated: bool
    depressed: bool

    @property
    def percent(self) -> float | None:
        return self.slope.magnitude_percent

    @property
    def baseline_cv(self) -> float | None:
        """SD / |mean| of the valid baseline slopes (None: fewer than 2, or a zero mean)."""
        s = self.slope
        if s.baseline_sd is None or not s.baseline_mean:
            return None
        return s.baseline_sd / abs(s.baseline_mean)

    def to_dict(self) -> dict:
        s = self.slope
        return {"electrode": self.electrode, "role": self.role, "ltp_percent": s.magnitude_percent,
                "baseline_slope_mV_per_ms": s.baseline_mean, "baseline_slope_cv": self.baseline_cv,
                "baseline_amplitude_mV": self.amplitude_mV, "baseline_noise_mV": self.noise_mV,
                "baseline_sweeps": s.n_baseline, "result_sweeps": s.n_used, "responding": self.responding,
                "why_not_responding": self.why, "potentiated": self.potentiated, "depressed": self.depressed,
                "reason": s.reason}


def classify(electrode: int, role: str, slope: PathwayResult, amplitude: PathwayResult, noise: PathwayResult,
             settings: MapSettings = MapSettings()) -> ElectrodeResult:
    """The verdicts for one electrode from its slope, amplitude and noise results (each from
    :func:`rig.analysis.results.pathway_result` on that electrode's measurements)."""
    amp, nz = amplitude.baseline_mean, noise.baseline_mean
    why = ""
    if role == "stimulating":
        why = "stimulating electrode"
    elif slope.baseline_mean is None:
        why = slope.reason or "no valid baseline"
    elif not (slope.baseline_mean < 0 and slope.baseline_sd is not None):
        why = "baseline slope not negative" if slope.baseline_mean >= 0 else "fewer than 2 baseline sweeps"
    elif slope.baseline_sd > settings.max_cv * abs(slope.baseline_mean):
        why = f"baseline slope CV above {settings.max_cv:g}"
    elif amp is None or nz is None or not amp < 0:
        why = "no negative fEPSP amplitude"
    elif abs(amp) < settings.k_noise * nz:
        why = f"fEPSP amplitude below {settings.k_noise:g} × noise"
    responding = not why
    pct = slope.magnitude_percent
    return ElectrodeResult(electrode, role, slope, amp, nz, responding, why,
                           responding and pct is not None and pct > settings.potentiated_percent,
                           responding and pct is not None and pct < settings.depressed_percent)


def fraction(results: list[ElectrodeResult], settings: MapSettings = MapSettings()) -> dict:
    """Counts and the fraction of responding electrodes (with a magnitude) that potentiated (and depressed)."""
    resp = [r for r in results if r.responding]
    with_result = [r for r in resp if r.percent is not None]
    pot = sum(r.potentiated for r in resp)
    dep = sum(r.depressed for r in resp)
    n = len(with_result)
    return {"n_electrodes": len(results), "responding": len(resp), "responding_with_result": n,
            "potentiated": pot, "depressed": dep,
            "fraction_potentiated": pot / n if n else None, "fraction_depressed": dep / n if n else None,
            "potentiated_percent": settings.potentiated_percent, "depressed_percent": settings.depressed_percent,
            "max_cv": settings.max_cv, "k_noise": settings.k_noise, "method": settings.method}
