"""Re-analysis in the window: re-measure the test sweeps the window holds with the windows drawn.

The window keeps the last ``DisplayModel.held_per_pathway`` test sweeps of each pathway that it
received (at ``--speed max`` it skips frames, so not necessarily every sweep). Their time-course
points are replaced by the new measurement; the file is not touched (its raw samples stay the
truth; ``rig analyze`` re-measures a whole recording).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rig import detector
from rig.display.model import DisplayModel, _first_field


@dataclass(frozen=True)
class Reanalysis:
    """What a re-analysis changed: sweeps re-measured per pathway and the mean slope (mV/ms)
    of those sweeps before and after."""

    sweeps: dict[int, int] = field(default_factory=dict)
    slope_before: dict[int, float] = field(default_factory=dict)
    slope_after: dict[int, float] = field(default_factory=dict)

    @property
    def n_sweeps(self) -> int:
        return sum(self.sweeps.values())

    def text(self) -> str:
        if not self.n_sweeps:
            return "re-analyse: the window holds no test sweeps yet"
        parts = [f"S{p + 1} {n} sweeps, mean slope {self.slope_before[p]:.3f} → {self.slope_after[p]:.3f} mV/ms"
                 for p, n in self.sweeps.items() if n]
        return "re-analysed " + "; ".join(parts) + " (the window's points; the file is unchanged)"


def _mean(v: list[float]) -> float:
    f = [x for x in v if math.isfinite(x)]
    return float(np.mean(f)) if f else math.nan


def reanalyse(model: DisplayModel, windows_ms: dict[str, tuple[float, float]]) -> Reanalysis:
    """Re-measure every held test sweep with the model's windows in use overridden by
    ``windows_ms`` (ms from the stimulus) and update their time-course points."""
    base = detector.Windows.from_dict(model.windows) if model.windows else detector.Windows()
    w = base.replace(**{k: (float(v[0]), float(v[1])) for k, v in windows_ms.items()})
    out = Reanalysis()
    for p, held in model.held.items():
        tc = model.time_course.get(p)
        if tc is None:
            continue
        where = {int(s): i for i, s in enumerate(tc["sweep"])}
        before: list[float] = []
        after: list[float] = []
        for h in held:
            i = where.get(h.index)
            if i is None:
                continue
            rec = detector.measure_pulses(h.trace_mV, h.pulse_offsets, model.fs, w, h.clip_mV)[0]
            before.append(float(tc["slope"][i]))
            slope = _first_field(rec, "slope_mV_per_ms", "slope")
            tc.update_at(i, slope, _first_field(rec, "amplitude_mV", "amplitude"),
                         _first_field(rec, "volley_mV", "volley"))
            after.append(slope)
        out.sweeps[p] = len(after)
        out.slope_before[p], out.slope_after[p] = _mean(before), _mean(after)
    model._result_cache.clear()  # the re-measured points change the result
    model.v_time_course += 1
    return out
