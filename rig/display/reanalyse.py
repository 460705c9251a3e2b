"""Re-analysis in the window: re-measure the test sweeps the window holds with the windows drawn.

Each pathway is re-measured with its own windows (issue 15): the model's windows of that pathway
(``DisplayModel.windows_of``: its stored set, else every pathway's), overridden by the windows
dragged on that pathway's plot, or by the windows drawn for every pathway when it has no own set.

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


def pathway_windows(model: DisplayModel, pathway: int, windows_ms: dict[str, tuple[float, float]],
                    pathway_windows_ms: dict[int, dict[str, tuple[float, float]]] | None = None,
                    ) -> detector.Windows:
    """The windows (ms from the stimulus) ``pathway``'s held sweeps are re-measured with: the model's
    windows of the pathway, overridden by those dragged on its plot (``pathway_windows_ms``), or by
    ``windows_ms`` (every pathway's) when the pathway has no own windows."""
    stored = model.windows_of(pathway)
    base = detector.Windows.from_dict(stored) if stored else detector.Windows()
    drawn = (pathway_windows_ms or {}).get(pathway)
    if drawn is None:
        own = pathway in getattr(model, "pathway_windows", {})
        drawn = {} if own else windows_ms
    return base.replace(**{k: (float(v[0]), float(v[1])) for k, v in drawn.items()})


def reanalyse(model: DisplayModel, windows_ms: dict[str, tuple[float, float]],
              pathway_windows_ms: dict[int, dict[str, tuple[float, float]]] | None = None) -> Reanalysis:
    """Re-measure every held test sweep, each pathway with its own windows (:func:`pathway_windows`;
    ``windows_ms``: every pathway's drawn windows, ``pathway_windows_ms``: pathway → the windows drawn
    on its plot, ms from the stimulus) and update their time-course points."""
    out = Reanalysis()
    for p, held in model.held.items():
        tc = model.time_course.get(p)
        if tc is None:
            continue
        w = pathway_windows(model, p, windows_ms, pathway_windows_ms)
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
