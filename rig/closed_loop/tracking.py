"""Optional intensity tracking during the baseline: hold the test response at its target.

Every ``every_sweeps`` test sweeps of a pathway, the mean slope of those sweeps is compared with
the target (the mean of the first ``every_sweeps`` sweeps after tracking started, or
``target_slope_mV_per_ms``); outside ``deadband_percent`` the intensity moves by
``gain × intensity × (target / mean − 1)``, at most ``max_step_uA`` µA. Frozen for good before
the first induction. Settings: ``Plan.closed_loop["tracking"]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DEFAULT_TRACKING = {"enabled": False, "every_sweeps": 3, "gain": 0.5, "max_step_uA": 10.0,
                    "deadband_percent": 5.0, "target_slope_mV_per_ms": None}


@dataclass
class _Track:
    target: float | None = None
    buf: list[float] = field(default_factory=list)


class IntensityTracker:
    def __init__(self, settings: dict | None = None) -> None:
        self.cfg = {**DEFAULT_TRACKING, **(settings or {})}
        self.enabled = bool(self.cfg["enabled"])
        self.frozen = False
        self._pw: dict[int, _Track] = {}

    def freeze(self) -> bool:
        """Stop tracking for the rest of the run; True if it was active."""
        was = self.enabled and not self.frozen
        self.frozen = True
        return was

    def restart(self, pathway: int) -> None:
        """Forget the buffer (and the learnt target unless it is fixed) after an outside change."""
        self._pw.pop(pathway, None)

    def on_test(self, pathway: int, slope: float, intensity_uA: float) -> tuple[float, dict] | None:
        """Proposed new intensity (µA, unrounded) and the reasoning, or None."""
        if not self.enabled or self.frozen or not math.isfinite(slope):
            return None
        tr = self._pw.setdefault(pathway, _Track(self.cfg["target_slope_mV_per_ms"]))
        tr.buf.append(slope)
        n = int(self.cfg["every_sweeps"])
        if len(tr.buf) < n:
            return None
        mean = sum(tr.buf) / len(tr.buf)
        tr.buf.clear()
        if tr.target is None:
            tr.target = mean
            return None
        if mean == 0.0:
            return None
        err = tr.target / mean - 1.0
        if abs(err) * 100.0 <= float(self.cfg["deadband_percent"]):
            return None
        step = float(self.cfg["gain"]) * intensity_uA * err
        cap = float(self.cfg["max_step_uA"])
        step = max(-cap, min(cap, step))
        return intensity_uA + step, {"target_slope": round(tr.target, 4), "mean_slope": round(mean, 4),
                                     "error_percent": round(err * 100.0, 1)}
