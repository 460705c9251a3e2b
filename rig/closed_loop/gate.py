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
from typing import Any

import numpy as np

import rig.analysis.results as results
from rig.core import events as ev
from rig.core.plan import Stimulus
from rig.core.scheduler import ScheduledStimulus

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


class BaselineGate:
    """The gated baseline's decisions, a mixin of :class:`~rig.closed_loop.controller.Controller`.

    - While stimulation is paused (operator or alarm) inside a gated baseline, the gate does not
      judge: the phase end waits for the resume, and the time paused is added to the phase's
      maximum, so a pause never makes the run abort for want of sweeps.
    - An induction held by a pause (``on_pause = "hold"``) before its first pulse is not delivered
      at the resume until the gate of the baseline before it holds again: test pulses of that
      baseline go on and each new sweep is judged over the gate's window (sweeps before the pause
      count); if it does not hold within the window plus three test cycles, the baseline's
      ``on_unstable`` action applies (``abort``, ``pause``: held again, ``proceed``).
    """

    fs: float
    plan: Any
    alarms: Any
    slope_field: str
    phase_index: int
    phase_start: int
    phase_end: int
    generated_until: int
    stimulation_paused: bool
    finished_at: int | None
    end_reason: str | None
    end_message: str
    last_gate: dict
    _gate_wait: bool
    _tests: dict[int, list[tuple[float, float]]]
    _gate_paused: int  # samples of the current gated phase spent paused
    _recheck: dict | None  # the held induction's re-check of the baseline gate
    _gated_points: tuple[int, dict] | None  # (phase, its test points) of the last gated baseline

    def on_remeasured(self, again: list) -> list:
        """Engine hook: a new analysis version measured the recorded sweeps again ((kind, Measured)):
        the gate's points take the new values (an invalid one is dropped), the alarms a new reference."""
        new: dict[tuple[int, float], float | None] = {}
        for kind, m in again:
            if kind == "test" and len(m.records):
                y, flags = float(m.records[0][self.slope_field]), int(m.records[0]["flags"])
                new[(m.pathway, m.sample / self.fs)] = y if results.is_valid(flags, y) else None

        def follow(points: dict) -> dict:
            out = {pw: [(t, new.get((pw, t), y)) for t, y in pts] for pw, pts in points.items()}
            return {pw: [(t, y) for t, y in pts if y is not None] for pw, pts in out.items()}

        self._tests = follow(self._tests)
        if self._gated_points is not None:
            self._gated_points = (self._gated_points[0], follow(self._gated_points[1]))
        for pw in {m.pathway for _, m in again}:
            self.alarms.reset_reference(pw)
        return []

    def _verdicts(self, p: Any, points: dict, now_s: float) -> tuple[bool, dict, str]:
        crit = p.info.get("stability", {})
        verdict = {}
        for pw in sorted(set(p.test.pathways)):
            pts = points.get(pw, [])
            verdict[pw] = check_stability(np.array([a for a, _ in pts]), np.array([b for _, b in pts]), now_s, crit)
        data = {f"{self.name(pw)}": v.to_dict() for pw, v in verdict.items()}
        text = "; ".join(f"{self.name(pw)}: {v.reason}" for pw, v in verdict.items())
        self.last_gate = {"time_s": round(now_s, 3), **data}
        return all(v.stable for v in verdict.values()), data, text

    def _gate(self, p: Any, docs: list) -> bool:
        assert p.test is not None
        now_s = self.phase_end / self.fs
        stable, data, text = self._verdicts(p, self._tests, now_s)
        if stable:
            docs.append(ev.BaselineStable(sample=self.phase_end, text=f"baseline stable after "
                                          f"{(self.phase_end - self.phase_start) / self.fs / 60:.1f} min ({text})",
                                          extra=data))
            return True
        max_end = self.phase_start + (p.max_duration_samples or p.duration_samples) + self._gate_paused
        step = int(p.info.get("extend_step_s", 0) * self.fs) or p.test.interval_samples * len(p.test.pathways)
        if self.phase_end < max_end:
            new_end = min(self.phase_end + step, max_end)
            docs.append(ev.BaselineExtended(
                sample=self.phase_end,
                text=f"baseline extended by {(new_end - self.phase_end) / self.fs:.0f} s ({text})",
                new_end_s=round(new_end / self.fs, 3), extra=data))
            self.phase_end = new_end
            return False
        return self._unstable(p, self.phase_end, data, text, docs)

    def _unstable(self, p: Any, sample: int, data: dict, text: str, docs: list, when: str = "by its maximum") -> bool:
        action = p.info.get("on_unstable", "abort")
        docs.append(ev.BaselineUnstable(sample=sample, action=action, extra=data,
                                        text=f"baseline not stable {when}: {action} ({text})"))
        if action == "proceed":
            return True
        if action == "pause":
            self._gate_wait = self._recheck is None
            self.stimulation_paused = True
            docs.append(ev.Paused(sample=sample, text="waiting for the operator: resume or induce_now "
                                  "continues the protocol, extend_baseline tests on", cause="gate"))
            if self._recheck is None:
                self.phase_end += max(1, int(0.05 * self.fs))
            return False
        # abort: the run ends here, nothing more is generated; the engine zeroes the outputs
        self.finished_at = sample
        self.end_reason, self.end_message = "aborted", f"baseline not stable {when} ({text})"
        return False

    def _paused_gate_hold(self) -> bool:
        """At a gated phase end while stimulation is paused: wait for the resume (True)."""
        if not self.stimulation_paused or self._gate_wait:
            return False
        step = max(1, int(0.05 * self.fs))
        self.phase_end += step
        return True

    def _count_paused(self, p: Any, samples: int) -> None:
        if self.stimulation_paused and not self._gate_wait and p.kind == "baseline" and self._gated(p):
            self._gate_paused += samples

    def _remember_gate(self, p: Any) -> None:
        """Entering a phase: keep the test points of a gated baseline that just ended."""
        if p.kind == "baseline" and self._gated(p) and p.test is not None:
            self._gated_points = (self.phase_index, {k: list(v) for k, v in self._tests.items()})
        elif p.kind == "induction":
            return
        elif self._gated_points is not None and p.kind not in ("drug", "washout"):
            self._gated_points = None

    def _recheck_segment(self, p: Any, seg_end: int, stims: list, docs: list) -> bool:
        """After the resume of an induction held before its first pulse: test pulses of the gated
        baseline before it until its gate holds (True: this segment was a re-check, the induction's
        clock waits)."""
        if self._gated_points is None or p.kind != "induction":
            return False
        base = self.plan.phases[self._gated_points[0]]
        r = self._recheck
        if r is None:
            cycle = base.test.interval_samples * len(base.test.pathways)
            limit = int(float(base.info.get("stability", {}).get("window_min", 20.0)) * 60 * self.fs) + 3 * cycle
            r = self._recheck = {"start": self.generated_until, "until": self.generated_until + limit, "n": -1}
            docs.append(ev.BaselineExtended(sample=self.generated_until, new_end_s=round(r["until"] / self.fs, 3),
                                            text=f"{p.name} held: the baseline gate is re-checked before inducing"))
        points = {pw: self._gated_points[1].get(pw, []) + self._tests.get(pw, []) for pw in base.test.pathways}
        n = sum(len(v) for v in points.values())
        if n != r["n"]:
            r["n"] = n
            stable, data, text = self._verdicts(base, points, self.generated_until / self.fs)
            if stable:
                docs.append(ev.BaselineStable(sample=self.generated_until, extra=data,
                                              text=f"baseline stable again after the resume ({text})"))
                self._recheck = self._gated_points = None
                return False
            if self.generated_until >= r["until"]:
                self._recheck = None
                if self._unstable(base, self.generated_until, data, text, docs, when="after the resume"):
                    self._gated_points = None
                    return False
                return True
        for rel, pw in base.test.pulse_times(self.generated_until - r["start"], seg_end - r["start"]):
            s = Stimulus(sample=r["start"] + rel, pathway=pw, kind=base.test.kind,
                         pulse_offsets=base.test.pulse_offsets, width_samples=self.plan.pulse_width_samples,
                         biphasic=self.plan.biphasic,
                         pre_samples=self.plan.sweep_pre_samples, post_samples=self.plan.sweep_post_samples)
            stims.append(ScheduledStimulus(s, self.intensity_uA[pw], self.phase_index))
        self.phase_start += seg_end - self.generated_until
        self.phase_end += seg_end - self.generated_until
        return True
