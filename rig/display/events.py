"""What the window does with each event type of :mod:`rig.core.events` (one table, checked
complete by the tests), and the DisplayModel's event handlers (a mixin; no Qt)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rig.analysis.results import INVALID_FLAGS
from rig.core import events as ev


@dataclass(frozen=True)
class EventDisplay:
    """How the window shows one event type: ``handler`` (a DisplayModel method updating its state,
    None: no state), ``marker`` (drawn on the time course) and why."""

    handler: str | None
    marker: bool
    why: str


# Every event type of rig.core.events, and what the window does with it (tests check it is complete).
EVENT_DISPLAY: dict[type[ev.Event], EventDisplay] = {
    ev.OutputsZeroed: EventDisplay(None, False, "safety bookkeeping at start and stop; the state shows STOPPED"),
    ev.Gap: EventDisplay("_on_integrity", True, "counted and shown red in gaps/overruns; lost samples added"),
    ev.Overrun: EventDisplay("_on_integrity", True, "counted in gaps/overruns"),
    ev.LateWrite: EventDisplay("_on_integrity", False, "counted in gaps/overruns"),
    ev.StimulusMissed: EventDisplay(None, True, "a stimulus that never happened: marked"),
    ev.OutputUnderflow: EventDisplay("_on_integrity", True, "counted; stimulation has stopped"),
    ev.SweepLost: EventDisplay("_on_integrity", False, "counted in gaps/overruns"),
    ev.SweepDiscarded: EventDisplay(None, False, "too frequent at stop; the sweep simply is not shown"),
    ev.WindowsChanged: EventDisplay("_on_windows", True, "the sweep panel draws the windows in use"),
    ev.AnalysisVersion: EventDisplay("_on_analysis", True, "marked; its re-measured sweeps replace their "
                                     "time-course points (Measured remeasure); the version in the message line"),
    ev.WindowsRefused: EventDisplay("_on_refusal", False, "shown in the message line"),
    ev.WindowsProposed: EventDisplay(None, False, "listed; applied windows arrive as a windows event"),
    ev.WindowsUncertain: EventDisplay("_on_refusal", True, "a proposal not applied: message line, marked"),
    ev.AverageMeasured: EventDisplay(None, False, "listed; the time course shows the single sweeps"),
    ev.PhaseEntered: EventDisplay(None, False, "phases are drawn as bands from PhaseStart"),
    ev.Induction: EventDisplay(None, True, "marked on the time course with pulses delivered/planned"),
    ev.InductionHeld: EventDisplay(None, True, "marked: the induction waits for the resume"),
    ev.Valve: EventDisplay(None, True, "drug on/off marked"),
    ev.BaselineStable: EventDisplay(None, True, "gate verdict marked"),
    ev.BaselineExtended: EventDisplay(None, False, "the phase band grows; listed"),
    ev.BaselineUnstable: EventDisplay(None, True, "gate verdict marked"),
    ev.Paused: EventDisplay("_on_paused", True, "state PAUSED"),
    ev.Resumed: EventDisplay("_on_resumed", True, "state RECORDING"),
    ev.IoFit: EventDisplay(None, False, "the I/O panel fits its own points; listed"),
    ev.IntensitySet: EventDisplay("_on_intensity", False, "the intensity shown in the status"),
    ev.TrackingFrozen: EventDisplay(None, False, "listed"),
    ev.Alarm: EventDisplay("_on_alarm", True, "last alarm in the status, marked"),
    ev.Operator: EventDisplay("_on_operator", False, "reply in the message line; a mark is drawn as a marker"),
    ev.OperatorRefused: EventDisplay("_on_refusal", False, "shown in the message line"),
    ev.ControlUnavailable: EventDisplay("_on_refusal", False, "shown in the message line"),
    ev.Recovered: EventDisplay(None, True, "marked where rig recover cut the file"),
    ev.ObserverError: EventDisplay("_on_refusal", False, "a failing observer (maybe this window): message line"),
    ev.GainChanged: EventDisplay(None, True, "marked: the traces after it are scaled with the new gain"),
    ev.TelegraphUnreadable: EventDisplay(None, True, "marked: the gain telegraph cannot be read"),
    ev.StimulusMismatch: EventDisplay(None, True, "marked: the isolator monitor disagrees with the command"),
    ev.SiteGuard: EventDisplay("_on_site_guard", False, "multi-site: why this site's stimuli moved, in the "
                               "message line (red when the guard could not be kept)"),
    ev.UnknownEvent: EventDisplay(None, False, "a kind from a newer version: listed"),
}

def paired_ratio(records: Any) -> float:
    """Paired test pulses: slope 2 / slope 1 (NaN for a single pulse or an invalid one)."""
    if records is None or len(records) < 2 or "slope_mV_per_ms" not in records.dtype.names:
        return math.nan
    if "flags" in records.dtype.names and (int(records["flags"][0]) | int(records["flags"][1])) & INVALID_FLAGS:
        return math.nan
    a, b = float(records["slope_mV_per_ms"][0]), float(records["slope_mV_per_ms"][1])
    return b / a if a != 0.0 and math.isfinite(a) and math.isfinite(b) else math.nan


@dataclass
class EventInfo:
    t_s: float
    kind: str
    text: str
    data: dict = field(default_factory=dict)
    marker: bool = False
    label: str = ""  # marker label



class EventHandlers:
    """Event part of :class:`~rig.display.model.DisplayModel` (state lives in the model)."""

    fs: float
    events: list[EventInfo]
    gap_events: int
    lost_samples: int
    last_alarm: str
    paused: bool
    intensity_uA: dict[int, float]
    windows: dict
    v_windows: int
    v_events: int
    reply: str
    reply_refused: bool
    v_reply: int

    def _on_event(self, e: ev.Event) -> None:
        how = EVENT_DISPLAY.get(type(e), EVENT_DISPLAY[ev.UnknownEvent])
        marker = how.marker or (isinstance(e, ev.Operator) and e.cmd == "mark" and e.accepted)
        label = e.note if isinstance(e, ev.Operator) and e.note else (e.text or e.kind)
        self.events.append(EventInfo(e.sample / self.fs, e.kind, e.text, dict(e.data), marker, label))
        self._advance(e.sample)
        if how.handler is not None:
            getattr(self, how.handler)(e)
        self.v_events += 1

    def _on_integrity(self, e: ev.Event) -> None:
        self.gap_events += 1
        if isinstance(e, (ev.Gap, ev.Overrun)):
            self.lost_samples += int(e.samples)

    def _on_alarm(self, e: ev.Alarm) -> None:
        self.last_alarm = e.text or e.alarm

    def _on_paused(self, e: ev.Paused) -> None:
        self.paused = True

    def _on_resumed(self, e: ev.Resumed) -> None:
        self.paused = False

    def _on_intensity(self, e: ev.IntensitySet) -> None:
        self.intensity_uA[int(e.pathway)] = float(e.intensity_uA)

    def _on_windows(self, e: ev.WindowsChanged) -> None:
        self.__dict__.setdefault("windows_changes_s", []).append((e.sample / self.fs, e.pathway))
        self._set_windows(e.windows, e.pathway)

    def _baseline_from_s(self, ref: int | None, pathway: int | None = None) -> float | None:
        """The result's rule: the baseline counts only after the last change of the pathway's windows
        before its end."""
        if ref is None:
            return None
        later = [ph.start_s for ph in self.phases if ph.index > ref]
        end = min(later) if later else float("inf")
        t = [x for x, pw in self.__dict__.get("windows_changes_s", [])
             if x < end and (pathway is None or pw is None or pw == pathway)]
        return max(t) if t else None

    def _set_windows(self, windows: dict, pathway: int | None = None) -> None:
        """The windows in use: every pathway's (``pathway`` None) or one pathway's own set
        (``pathway_windows``: pathway → ``Windows.to_dict()``)."""
        if not windows:
            return
        own = self.__dict__.setdefault("pathway_windows", {})
        if pathway is not None:
            own[int(pathway)] = dict(windows)
        else:  # a change for every pathway: each pathway's own set takes the entries that changed
            changed = {k: v for k, v in windows.items() if self.windows.get(k) != v}
            for w in own.values():
                w.update(changed)
            self.windows = dict(windows)
        self.v_windows += 1

    def windows_of(self, pathway: int) -> dict:
        """The windows (``Windows.to_dict()``) of ``pathway``: its own set, else every pathway's."""
        return self.__dict__.get("pathway_windows", {}).get(pathway, self.windows)

    def _on_analysis(self, e: ev.AnalysisVersion) -> None:
        self.analysis_version = int(e.version)
        self.reply, self.reply_refused = e.text, False
        self.v_reply += 1

    def _remeasured(self, m: Any) -> None:
        """A new analysis version measured a recorded sweep again: its time-course point follows."""
        tc = self.time_course.get(m.pathway)
        if tc is None or not len(m.records) or getattr(self, "analysis_version", 0) > m.analysis:
            return
        i = int(np.searchsorted(tc["sweep"], m.sweep_index))
        if i < tc.n and tc["sweep"][i] == m.sweep_index:
            r = m.records[0]
            get = lambda name: float(r[name]) if name in r.dtype.names else math.nan  # noqa: E731
            tc.update_at(i, get("slope_mV_per_ms"), get("amplitude_mV"), get("volley_mV"))
            tc["flags"][i] = int(r["flags"]) if "flags" in r.dtype.names else 0
            tc["ppr"][i] = paired_ratio(m.records)
            self._result_cache.clear()
            self.v_time_course += 1

    def _on_operator(self, e: ev.Operator) -> None:
        self.reply, self.reply_refused = e.text, not e.accepted
        self.v_reply += 1

    def _on_site_guard(self, e: ev.SiteGuard) -> None:
        self.reply, self.reply_refused = e.text, not e.kept
        self.v_reply += 1

    def _on_refusal(self, e: ev.Event) -> None:
        self.reply, self.reply_refused = e.text, True
        self.v_reply += 1
