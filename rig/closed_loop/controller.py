"""The controller: walks the plan, hands the engine the next stimuli, takes the closed-loop decisions
and the operator's commands.

It holds the run state that decides *what* to stimulate (current phase and its end, test
intensity per pathway, paused or not); the engine decides nothing. Decisions take effect at the
first sample not yet written to the device (``generated_until``), so the plan is expanded lazily:
a gated baseline is extended one test cycle at a time, and the phases after it simply start later.

Closed-loop decisions (each recorded as a typed event of :mod:`rig.core.events`):
``io_fit`` / ``intensity_set``     end of an ``io_curve`` phase: Boltzmann fit, pop-spike threshold, rule
``baseline_extended`` / ``baseline_stable`` / ``baseline_unstable``   the gated baseline
``alarm``                          response lost, noise, saturation, volley change, gap
``operator`` / ``paused`` / ``resumed``  every command received (rig/closed_loop/operator.py)
``tracking_frozen``                intensity tracking stops before the first induction
"""

from __future__ import annotations

import json
import math
import queue
from dataclasses import replace
from typing import Any

import numpy as np

import rig.analysis.results as results
from rig.closed_loop.alarms import Alarm, AlarmMonitor
from rig.closed_loop.auto_windows import AutoWindowsMixin
from rig.closed_loop.gate import BaselineGate
from rig.closed_loop.io_fit import choose_intensity, fit_boltzmann, pop_spike_threshold, quantize
from rig.closed_loop.live_guard import GuardedTiming
from rig.closed_loop.lookahead import Lookahead
from rig.closed_loop.operator import OperatorCommands
from rig.closed_loop.tracking import IntensityTracker
from rig.core import events as ev
from rig.core.documents import Measured, PhaseStart
from rig.core.plan import Phase, Plan, Stimulus, ValveChange
from rig.core.scheduler import Schedule, ScheduledStimulus
from rig.stimulus import StimLimits

EVENT_DATA_BYTES = 1000  # the file's event data field holds 1024 bytes of JSON
# a record with these flags never enters a decision
_BAD = results.INVALID_FLAGS  # the result's rule: these measurements never count


def io_rule(info: dict) -> dict | None:
    """The intensity rule of an io_curve phase: ``info["set_intensity"]`` = {"rule": …, …}, or the
    rule's fields flat in ``info`` (``rule``, ``percent`` / ``margin_percent``); None = no rule."""
    if isinstance(info.get("set_intensity"), dict):
        return dict(info["set_intensity"])
    if info.get("rule"):
        return {k: info[k] for k in ("rule", "percent", "margin_percent", "fallback_percent") if k in info}
    return None


def _r(v: float, nd: int = 4) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


class Controller(OperatorCommands, Lookahead, AutoWindowsMixin, BaselineGate, GuardedTiming):
    """Expands the plan lazily into absolute-time stimuli as the write-ahead horizon advances
    (the engine drives it through the :class:`rig.core.scheduler.Scheduler` protocol).

    ``limits`` (the rig's) clamp every intensity the controller chooses; ``resolution_uA`` is the
    isolator's step (1 µA if the rig file gives none). ``commands`` is the operator command queue
    (dicts or objects with ``to_dict()``), drained by :meth:`poll` once per acquired block.
    """

    def __init__(self, plan: Plan, *, limits: StimLimits | None = None, resolution_uA: float | None = None,
                 commands: queue.Queue | None = None, ttl_only: tuple[bool, ...] = ()) -> None:
        self.plan = plan
        self.ttl_only = tuple(ttl_only)  # per pathway: amplitude set on the isolator's front panel
        self.fs = float(plan.sample_rate_hz)
        cl = plan.closed_loop or {}
        self.limits = limits or StimLimits()
        self.resolution_uA = float(resolution_uA or cl.get("isolator_resolution_uA", 1.0))
        width_us = plan.pulse_width_samples / self.fs * 1e6
        self.max_uA = min(self.limits.max_intensity_uA, self.limits.max_charge_uC / (width_us * 1e-6))
        self.min_uA = self.resolution_uA
        self.slope_field = cl.get("slope_field", "slope_mV_per_ms")
        self.intensity_uA = list(plan.test_intensity_uA)
        self.phase_index = 0
        self.phase_start = 0
        self.phase_end = plan.phases[0].duration_samples if plan.phases else 0
        self.generated_until = 0
        self.finished_at: int | None = None
        self.end_reason: str | None = None  # "aborted" when the controller ends the run
        self.end_message = ""
        self.stop_request: tuple[str, str] | None = None  # (reason, message): engine stops now
        self.phase_starts: list[int] = []
        self.stimulation_paused = False
        self.induced = False  # an induction pulse has been handed to the engine
        self.held_induction: dict | None = None  # the induction waiting for a resume (status)
        self.commands: queue.Queue = commands if commands is not None else queue.Queue()
        self.external_events: queue.Queue = queue.Queue()  # rig.core.events types from other threads
        self.alarms = AlarmMonitor(cl.get("alarms"), self.slope_field, name=self.name)
        self.tracker = IntensityTracker(cl.get("tracking"))
        self.alarm_log: list[dict] = []
        self.last_gate: dict = {}  # the latest baseline verdict (for status)
        self.windows_changes: list[tuple] = []  # (window, (a, b) ms, source, pathway) for Engine.set_windows
        self.status: dict[str, Any] = {}
        self._now = 0
        self._entered = False
        self._issued: dict[tuple[int, int], tuple[str, float, int]] = {}  # (sample, pathway) → kind, µA, phase
        self._io: dict[int, list[tuple[float, float, float, int]]] = {}  # pathway → (µA, slope, pop, flags)
        self._tests: dict[int, list[tuple[float, float]]] = {}  # pathway → (t s, slope) of this phase
        self._hold_since: int | None = None
        self._gate_wait = False  # gated baseline paused at its maximum, waiting for the operator
        self._force_end = False  # induce_now: end the current phase at the next decision point
        self._gate_paused = 0
        self._recheck: dict | None = None
        self._gated_points: tuple[int, dict] | None = None
        self._update_status()

    # -- the plan ----------------------------------------------------------------------------
    def name(self, pathway: int) -> str:
        """The pathway's name from the rig file (S1, S2, …)."""
        names = getattr(self.plan, "pathway_names", ()) or ()
        return names[pathway] if 0 <= pathway < len(names) else f"S{pathway + 1}"

    @property
    def phase(self) -> Phase:
        return self.plan.phases[self.phase_index]

    def _gated(self, p: Phase) -> bool:
        return p.gated or "stability" in p.info

    def _enter_phase(self, docs: list) -> None:
        p = self.phase
        if self.phase_index:
            self._remember_gate(self.plan.phases[self.phase_index - 1])
        self.phase_starts.append(self.phase_start)
        self.phase_end = self.phase_start + p.duration_samples
        self._tests = {}
        self._gate_paused = 0
        self._hold_since = None
        self._gate_wait = False
        self._force_end = False
        docs.append(PhaseStart(self.phase_index, p.name, p.kind, self.phase_start))
        docs.append(ev.PhaseEntered(sample=self.phase_start, text=f"{p.name} ({p.kind})", index=self.phase_index))
        if p.kind == "io_curve":
            self._io = {}
        if p.kind == "induction" and self.tracker.freeze():
            docs.append(ev.TrackingFrozen(sample=self.phase_start, intensity_uA=list(self.intensity_uA),
                                          text="intensity tracking frozen before induction"))
        # the Induction event (pulses delivered) is recorded by the engine once the phase is over
        drugs = p.info.get("drug") or ", ".join(d.get("drug", "") for d in p.info.get("drugs", []))
        for vc in p.valves:
            what = f"{drugs} {'on' if vc.state else 'off'} (valve line {vc.line})".strip()
            docs.append(ev.Valve(sample=self.phase_start + vc.sample, text=what, line=vc.line, state=vc.state,
                                 drug=drugs))

    def _stim_uA(self, s: Stimulus) -> float:
        return s.intensity_uA if s.intensity_uA is not None else self.intensity_uA[s.pathway]

    def schedule(self, until: int) -> Schedule:
        """Stimuli (with resolved µA) and valve changes with onset in [generated_until, until).

        Also returns the documents (phase starts, decisions at phase ends) this advance creates.
        """
        stims: list[ScheduledStimulus] = []
        valves: list[ValveChange] = []
        docs: list = []
        while self.finished_at is None and self.generated_until < until:
            if not self._entered:
                self._enter_phase(docs)
                self._entered = True
            p, p0 = self.phase, self.phase_start
            seg_end = min(until, self.phase_end)
            r0, r1 = self.generated_until - p0, seg_end - p0
            self._count_paused(p, seg_end - self.generated_until)
            guard_hold = self.generated_until < self._guard_hold_until  # multi-site: released a moment later
            if (self.stimulation_paused or guard_hold) and self._holds(p, r0):
                if guard_hold and not self.stimulation_paused:
                    seg_end = min(seg_end, self._guard_hold_until)
                self._hold_induction(seg_end - self.generated_until, docs)
                self.generated_until = seg_end
                continue
            if (not self.stimulation_paused and self.held_induction is not None
                    and all(s.sample >= r0 for s in p.stimuli) and self._recheck_segment(p, seg_end, stims, docs)):
                self.generated_until = seg_end  # the held induction waits for its baseline gate
                continue
            if not self.stimulation_paused:
                if self.held_induction is not None:
                    if self.guard_release(docs):  # the guard between sites: held a moment longer
                        continue
                    self._guard_released = False
                self.held_induction = None
                if p.test is not None:
                    for rel, pw in p.test.pulse_times(r0, r1):
                        s = Stimulus(
                            sample=p0 + rel, pathway=pw, kind=p.test.kind, pulse_offsets=p.test.pulse_offsets,
                            width_samples=self.plan.pulse_width_samples, biphasic=self.plan.biphasic,
                            pre_samples=self.plan.sweep_pre_samples, post_samples=self.plan.sweep_post_samples,
                        )
                        stims.append(ScheduledStimulus(s, self.intensity_uA[pw], self.phase_index))
                for s in p.stimuli:
                    if r0 <= s.sample < r1:
                        self.induced = self.induced or p.kind == "induction"
                        stims.append(ScheduledStimulus(replace(s, sample=s.sample + p0), self._stim_uA(s),
                                                       self.phase_index))
            for vc in p.valves:
                if r0 <= vc.sample < r1:
                    valves.append(ValveChange(vc.sample + p0, vc.line, vc.state))
            self.generated_until = seg_end
            if seg_end == self.phase_end and self._phase_end_decision(docs):
                if self.phase_index + 1 < len(self.plan.phases):
                    self.phase_index += 1
                    self.phase_start = self.phase_end
                    self._entered = False
                else:
                    self.finished_at = self.phase_end
        for s, uA, ph in stims:
            self._issued[(s.sample, s.pathway)] = (s.kind, uA, ph)
        stims.sort(key=lambda t: t.stimulus.sample)
        self._guard_register()
        self._update_status()
        return Schedule(stims, valves, docs)

    # -- decisions at a phase end ------------------------------------------------------------
    def _outstanding(self, kinds: tuple[str, ...]) -> int:
        return sum(1 for (_, _), (k, _, ph) in self._issued.items() if ph == self.phase_index and k in kinds)

    def _hold(self) -> bool:
        """Extend the phase by a short step while measurements are still on their way.

        Holds at most the longest sweep + 1 s; returns False when the hold has run out."""
        if self._hold_since is None:
            self._hold_since = self.phase_end
        if self.phase_end - self._hold_since >= self.plan.max_sweep_samples() + int(self.fs):
            return False
        self.phase_end += max(1, int(0.05 * self.fs))
        return True

    def _phase_end_decision(self, docs: list) -> bool:
        """At the current phase end: True = go on to the next phase; False = the phase was extended
        (or the run finished). Multi-site: the next phase starts a moment later when that keeps the
        guard from the other sites (:mod:`rig.closed_loop.live_guard`)."""
        go = self._phase_end_verdict(docs)
        if go and self.finished_at is None:
            delay = self.guard_phase_end(docs, "gated baseline" if self._gated(self.phase) else "phase end moved")
            if delay:
                self.phase_end += delay
                self._force_end = True
                return False
        return go

    def _phase_end_verdict(self, docs: list) -> bool:
        """The protocol's decision at the phase end (io fit, gate, holds): True = go on."""
        p = self.phase
        if self._force_end:
            return True
        if p.kind == "io_curve":
            if self._outstanding(("io",)) and self._hold():
                return False
            self._apply_io(docs)
            return True
        if not self._gated(p) or p.test is None:
            return True
        if self._gate_wait:  # paused at the maximum: wait for the operator
            self.phase_end += max(1, int(0.05 * self.fs))
            return False
        if self._paused_gate_hold():  # paused by the operator or an alarm: the gate waits for the resume
            return False
        if self._outstanding((p.test.kind,)) and self._hold():
            return False
        self._hold_since = None
        return self._gate(p, docs)

    def _apply_io(self, docs: list) -> None:
        rule = io_rule(self.phase.info)
        for pw in sorted(self._io):
            pts = self._io[pw]
            ok = [q for q in pts if not (q[3] & _BAD) and math.isfinite(q[1])]
            x = np.array([q[0] for q in ok])
            y = -np.array([q[1] for q in ok])
            fit = fit_boltzmann(x, y)
            thr = pop_spike_threshold(np.array([q[0] for q in ok]), np.array([q[2] for q in ok]))
            xs = np.unique(x)
            means = [[_r(v, 2), _r(float(np.mean(y[x == v]))), int(np.sum(x == v))] for v in xs]
            data = {"pathway": pw, "fit": fit.to_dict(), "pop_spike_threshold_uA": thr,
                    "means": means, "points": [[_r(a, 2), _r(b)] for a, b in zip(x, y, strict=True)]}
            if len(json.dumps(data)) > EVENT_DATA_BYTES:
                data.pop("points")
            docs.append(ev.IoFit(sample=self.phase_end,
                                 text=f"{self.name(pw)}: Boltzmann vmax {fit.vmax:.3f} mV/ms, I50 {fit.i50_uA:.1f} µA, "
                                 f"k {fit.k_uA:.1f} µA, R² {fit.r2:.3f}" + ("" if fit.ok else f" — {fit.message}"),
                                 pathway=pw, fit=data["fit"], pop_spike_threshold_uA=thr, means=means,
                                 extra={"points": data["points"]} if "points" in data else {}))
            if rule is None:  # an I/O curve without a rule: recorded, intensity unchanged
                continue
            top = min(self.top_uA(pw), float(x.max())) if x.size else self.top_uA(pw)  # never above the tested range
            choice = choose_intensity(fit, rule, thr, resolution_uA=self.resolution_uA,
                                      min_uA=self.min_uA, max_uA=top)
            if choice is None:
                docs.append(ev.IntensitySet(sample=self.phase_end,
                                            text=f"{self.name(pw)}: kept {self.intensity_uA[pw]:g} µA (no usable fit)",
                                            pathway=pw, intensity_uA=self.intensity_uA[pw], rule=rule, changed=False))
                continue
            old = self.intensity_uA[pw]
            self._set_intensity(pw, choice.intensity_uA)
            docs.append(ev.IntensitySet(sample=self.phase_end,
                                        text=f"{self.name(pw)}: {choice.intensity_uA:g} µA ({choice.reason})",
                                        pathway=pw, intensity_uA=choice.intensity_uA, previous_uA=old, rule=rule,
                                        clamped=choice.clamped, changed=True,
                                        extra={"raw_uA": _r(choice.raw_uA, 3), "resolution_uA": self.resolution_uA}))

    def _set_intensity(self, pw: int, uA: float) -> None:
        self.intensity_uA[pw] = uA
        self.alarms.reset_reference(pw)

    # -- measurements ------------------------------------------------------------------------
    def on_measured(self, doc: Measured) -> list:
        """Closed-loop hook, called for every measured sweep: returns the decisions (documents)."""
        kind, uA, ph = self._issued.pop((doc.sample, doc.pathway), ("", math.nan, doc.phase))
        if len(doc.records) == 0:
            return []
        rec = doc.records[0]
        slope = float(rec[self.slope_field])
        flags = int(rec["flags"])
        docs: list = []
        if kind == "io":
            pop = float(rec["pop_spike_mV"]) if "pop_spike_mV" in rec.dtype.names else 0.0
            self._io.setdefault(doc.pathway, []).append((uA, slope, pop, flags))
            return docs
        if kind != "test":
            return docs
        if ph == self.phase_index and not flags & _BAD and math.isfinite(slope):
            self._tests.setdefault(doc.pathway, []).append((doc.sample / self.fs, slope))
        for a in self.alarms.on_test(doc.pathway, rec):
            docs.extend(self._raise_alarm(a, doc.sample))
        if self.phase.kind == "baseline" and not self.induced and not flags & _BAD:
            prop = self.tracker.on_test(doc.pathway, slope, self.intensity_uA[doc.pathway])
            if prop is not None:
                new, why = prop
                q, clamped = quantize(new, self.resolution_uA, self.min_uA, self.top_uA(doc.pathway))
                if q != self.intensity_uA[doc.pathway]:
                    old = self.intensity_uA[doc.pathway]
                    self.intensity_uA[doc.pathway] = q  # alarms keep their reference: tracking holds the response
                    docs.append(ev.IntensitySet(sample=doc.sample,
                                                text=f"{self.name(doc.pathway)}: {old:g} → {q:g} µA (tracking)",
                                                pathway=doc.pathway, intensity_uA=q, previous_uA=old, rule="tracking",
                                                clamped=clamped, extra=dict(why)))
        return docs

    def on_gap(self, sample: int, lost_samples: int) -> list:
        """Engine hook: samples were lost before ``sample``."""
        return [d for a in self.alarms.on_gap(lost_samples, self.fs) for d in self._raise_alarm(a, sample)]

    def on_wiring(self, name: str, pathway: int | None, sample: int, text: str, data: dict) -> list:
        """Engine hook: a wiring check failed (gain telegraph changed, isolator monitor mismatch);
        the protocol's [alarms] rule for ``name`` decides (continue, pause, stop)."""
        return [d for a in self.alarms.on_wiring(name, pathway, text, data) for d in self._raise_alarm(a, sample)]

    def _raise_alarm(self, a: Alarm, sample: int) -> list:
        docs: list = [ev.Alarm(sample=sample, text=f"{a.name}: {a.text} → {a.action}", alarm=a.name,
                               pathway=a.pathway, action=a.action, extra=dict(a.data))]
        self.alarm_log.append({"alarm": a.name, "pathway": a.pathway, "action": a.action, "sample": sample})
        if a.action == "pause" and not self.stimulation_paused:
            self.stimulation_paused = True
            docs.append(ev.Paused(sample=sample, text=f"stimulation paused by the {a.name} alarm",
                                  cause=f"alarm {a.name}"))
        elif a.action == "stop":
            self.stop_request = ("aborted", f"alarm {a.name}: {a.text}")
        return docs

    # -- status ------------------------------------------------------------------------------
    def _update_status(self) -> None:
        p = self.plan.phases[self.phase_index] if self.plan.phases else None
        self.status = {  # replaced as a whole: safe to read from another thread
            "plan": self.plan.name,
            "sample": self._now,
            "time_s": round(self._now / self.fs, 3),
            "phase_index": self.phase_index,
            "phase": p.name if p else "",
            "phase_kind": p.kind if p else "",
            "phase_start_s": round(self.phase_start / self.fs, 3),
            "phase_end_s": round(self.phase_end / self.fs, 3),
            "paused": self.stimulation_paused,
            "waiting_for_operator": self._gate_wait,
            "intensity_uA": list(self.intensity_uA),
            "induced": self.induced,
            "induction_held": self.held_induction if self.stimulation_paused else None,
            "finished": self.finished_at is not None,
            "end_reason": self.end_reason or (self.stop_request[0] if self.stop_request else None),
            "alarms": list(self.alarm_log[-10:]),
            "last_gate": self.last_gate,
            "last_command": getattr(self, "last_command", None),
        }
