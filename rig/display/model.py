"""What the window shows, as plain Python/numpy state built from the document stream (no Qt).

:class:`DisplayModel` ``.apply(doc)`` consumes RunStart, PhaseStart, SweepInfo (header of every
sweep, see :mod:`rig.display.feed`), Sweep (samples; may be missing when frames were dropped),
Measured, Event, Progress and RunStop. The window reads the result and redraws only what
changed (``version`` counters). Units: times in s (time course) or ms from the stimulus (sweep
panel), voltages in mV, slopes in mV/ms, intensities in µA.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

import rig.analysis.results as results
from rig.core import events as ev
from rig.core.documents import Measured, PhaseStart, Progress, RunStart, RunStop, Sweep
from rig.display.events import EVENT_DISPLAY, EventDisplay, EventHandlers, EventInfo, paired_ratio  # noqa: F401
from rig.display.feed import SweepInfo
from rig.display.io_fit import fit_io_curve  # noqa: F401 (its former home)

TIME_COURSE_SWEEP_KINDS = ("test", "paired")
IO_PHASE_KINDS = ("io_curve", "io")


def _first_field(rec: np.void | None, *names: str) -> float:
    """Value of the first field of ``rec`` present among ``names`` (NaN when none)."""
    if rec is None or rec.dtype.names is None:
        return math.nan
    for n in names:
        if n in rec.dtype.names:
            return float(rec[n])
    return math.nan


class TimeCourse:
    """Preallocated, growable time course of one pathway: one point per test sweep.

    ``capacity`` points are allocated up front (the default window allocates 4 h at the maximal
    sweep rate) so appending never reallocates during a normal run; beyond it the arrays double.
    """

    FIELDS = ("t_s", "slope", "amplitude", "volley", "ppr")  # ppr: paired test pulses (NaN: single)

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self._alloc(max(16, capacity))

    def _alloc(self, capacity: int) -> None:
        old = getattr(self, "_arrays", None)
        self._arrays = {f: np.full(capacity, np.nan) for f in self.FIELDS}
        self._arrays["sweep"] = np.full(capacity, -1, dtype=np.int64)
        self._arrays["phase"] = np.full(capacity, -1, dtype=np.int64)
        self._arrays["flags"] = np.zeros(capacity, dtype=np.int64)
        self._arrays["is_test"] = np.ones(capacity, dtype=bool)  # kind "test": counts for the result
        if old is not None:
            for k, a in old.items():
                self._arrays[k][: self.n] = a[: self.n]

    @property
    def capacity(self) -> int:
        return len(self._arrays["t_s"])

    def append(self, t_s: float, slope: float, amplitude: float, volley: float,
               sweep: int, phase: int, flags: int = 0, is_test: bool = True, ppr: float = math.nan) -> None:
        if self.n == self.capacity:
            self._alloc(2 * self.capacity)
        i = self.n
        a = self._arrays
        a["t_s"][i], a["slope"][i] = t_s, slope
        a["amplitude"][i], a["volley"][i] = amplitude, volley
        a["sweep"][i], a["phase"][i] = sweep, phase
        a["flags"][i], a["is_test"][i], a["ppr"][i] = flags, is_test, ppr
        self.n += 1

    def update_at(self, i: int, slope: float, amplitude: float, volley: float) -> None:
        """Replace the measured values of point ``i`` (re-analysis)."""
        a = self._arrays
        a["slope"][i], a["amplitude"][i], a["volley"][i] = slope, amplitude, volley

    def __getitem__(self, name: str) -> np.ndarray:
        """View of the filled part of one field (no copy)."""
        return self._arrays[name][: self.n]


@dataclass
class PhaseInfo:
    index: int
    name: str
    kind: str
    start_s: float


@dataclass(frozen=True)
class HeldSweep:
    """A recorded test sweep the window keeps for re-analysis: trace in mV, pulse offsets in
    samples from the sweep's first sample, the clipping level in mV."""

    index: int
    phase: int
    trace_mV: np.ndarray
    pulse_offsets: np.ndarray
    clip_mV: float


@dataclass
class SweepView:
    """The sweep panel of one pathway: x in ms from the stimulus, y in mV."""

    x_ms: np.ndarray | None = None
    latest: np.ndarray | None = None
    latest_index: int = -1
    latest_kind: str = ""
    pulse_ms: np.ndarray | None = None  # the latest sweep's pulses, ms from its stimulus
    average: np.ndarray | None = None  # mean of the last N test sweeps
    average_x_ms: np.ndarray | None = None
    n_average: int = 0
    baseline: np.ndarray | None = None  # mean of the test sweeps of the baseline phase(s)
    n_baseline: int = 0
    _recent: deque = field(default_factory=deque)
    _bsum: np.ndarray | None = None


class DisplayModel(EventHandlers):
    """State of the live window, fed one document at a time (see module docstring).

    ``n_average``: sweeps in the running average; ``channel_of_pathway``: AI channel shown for
    each pathway (default 0 for all: one recording electrode); ``capacity_hours`` and
    ``max_sweep_rate_hz`` size the preallocated time course (per pathway).
    """

    def __init__(self, n_average: int = 5, channel_of_pathway: dict[int, int] | None = None,
                 capacity_hours: float = 4.0, max_sweep_rate_hz: float = 1.0) -> None:
        self.n_average = n_average
        self.channel_of_pathway = dict(channel_of_pathway or {})
        self.capacity = int(capacity_hours * 3600 * max_sweep_rate_hz) + 1
        self.run: RunStart | None = None
        self.fs = 1.0
        self.pathways: tuple[int, ...] = ()
        self.phases: list[PhaseInfo] = []
        self.events: list[EventInfo] = []
        self.time_course: dict[int, TimeCourse] = {}
        self.sweeps: dict[int, SweepView] = {}
        self.io_points: dict[int, list[tuple[float, float]]] = {}
        self.intensity_uA: dict[int, float] = {}
        self.baseline_intensity_uA: dict[int, float] = {}  # of the latest baseline test sweep
        self.latest_measure: dict[int, tuple[int, np.void]] = {}  # pathway → (sweep, record)
        self.n_sweeps = 0
        self.n_sweeps_shown = 0
        self.now_sample = 0
        self.planned_samples = 0
        self.gap_events = 0
        self.lost_samples = 0
        self.last_alarm = ""
        self.paused = False
        self.reply = ""  # the latest answer to an operator command ("refused: …" when refused)
        self.reply_refused = False
        self.v_reply = 0
        self.windows: dict = {}  # detector windows in use (Windows.to_dict(): ms from the pulse)
        self.v_windows = 0
        self.held: dict[int, deque[HeldSweep]] = {}  # recent test sweeps per pathway (re-analysis)
        self.held_per_pathway = 200
        self.stop: RunStop | None = None
        self._sweep_meta: dict[int, SweepInfo] = {}  # recent headers by sweep index
        self._result_cache: dict[tuple[int, str], tuple[tuple, results.PathwayResult]] = {}
        # Version counters: the window redraws a part only when its counter moved.
        self.v_sweeps: dict[int, int] = {}
        self.v_time_course = 0
        self.v_phases = 0
        self.v_events = 0
        self.v_io = 0
        self.v_status = 0

    # ------------------------------------------------------------------ dispatch
    def apply(self, doc: object) -> None:
        """Update the state with one document (unknown types are ignored)."""
        if isinstance(doc, SweepInfo):
            self._on_sweep_info(doc)
        elif isinstance(doc, Sweep):
            self._on_sweep(doc)
        elif isinstance(doc, Measured):
            self._on_measured(doc)
        elif isinstance(doc, Progress):
            self._advance(doc.sample)
            self.planned_samples = doc.planned_samples
        elif isinstance(doc, PhaseStart):
            self._on_phase(doc)
        elif isinstance(doc, ev.Event):
            self._on_event(doc)
        elif isinstance(doc, RunStart):
            self._on_run_start(doc)
        elif isinstance(doc, RunStop):
            self.stop = doc
            self.lost_samples = max(self.lost_samples, doc.lost_samples)
            self._advance(doc.sample)
        else:
            return
        self.v_status += 1

    def apply_all(self, docs) -> None:
        for d in docs:
            self.apply(d)

    # ------------------------------------------------------------------ handlers
    def _on_run_start(self, rs: RunStart) -> None:
        self.run = rs
        self.fs = float(rs.sample_rate_hz)
        self.pathways = tuple(rs.pathways)
        self.planned_samples = rs.planned_samples
        prov = rs.provenance or {}
        self._set_windows(prov.get("windows") or {})
        for pw, own in (prov.get("pathway_windows") or {}).items():  # each pathway's own windows (1.4)
            self._set_windows({**self.windows, **own}, int(pw))
        for p in self.pathways:
            self._ensure_pathway(p)

    def _ensure_pathway(self, p: int) -> None:
        if p not in self.time_course:
            self.time_course[p] = TimeCourse(self.capacity)
            self.sweeps[p] = SweepView()
            self.io_points[p] = []
            self.v_sweeps[p] = 0
            if p not in self.pathways:
                self.pathways = (*self.pathways, p)

    def _advance(self, sample: int) -> None:
        self.now_sample = max(self.now_sample, int(sample))

    def _on_phase(self, ph: PhaseStart) -> None:
        self.phases.append(PhaseInfo(ph.index, ph.name, ph.kind, ph.sample / self.fs))
        self._advance(ph.sample)
        self.v_phases += 1

    def phase_kind(self, index: int) -> str:
        for ph in reversed(self.phases):
            if ph.index == index:
                return ph.kind
        return ""

    def _on_sweep_info(self, si: SweepInfo) -> None:
        self._ensure_pathway(si.pathway)
        self.n_sweeps += 1
        self._advance(si.start_sample + si.n_samples)
        if si.kind in TIME_COURSE_SWEEP_KINDS or si.kind == "io":
            self.intensity_uA[si.pathway] = si.intensity_uA
        if si.kind == "test" and self.phase_kind(si.phase) == "baseline":  # the reference for ±20 %
            self.baseline_intensity_uA[si.pathway] = si.intensity_uA
        self._sweep_meta[si.index] = si
        if len(self._sweep_meta) > 4096:  # headers are only needed until their Measured arrives
            for k in sorted(self._sweep_meta)[:2048]:
                del self._sweep_meta[k]

    def _channel(self, pathway: int) -> int:
        return self.channel_of_pathway.get(pathway, 0)

    def sweep_scale(self, s: Sweep, ch: int) -> float:
        """mV per count of channel ``ch`` in sweep ``s``: the sweep's own (the gain its telegraph
        read) on the channel a telegraph scales, else the run's fixed scale."""
        if s.gain_channel == ch and math.isfinite(s.gain_mV_per_count):
            return float(s.gain_mV_per_count)
        return self.run.ai_scale_mV_per_count[ch] if self.run else 1.0

    def _on_sweep(self, s: Sweep) -> None:
        self._ensure_pathway(s.pathway)
        ch = min(self._channel(s.pathway), s.counts.shape[0] - 1)
        scale = self.sweep_scale(s, ch)
        y = s.counts[ch].astype(np.float64) * scale
        n = y.shape[0]
        x = (np.arange(n, dtype=np.float64) + (s.start_sample - s.stim_sample)) * (1000.0 / self.fs)
        v = self.sweeps[s.pathway]
        v.x_ms, v.latest, v.latest_index, v.latest_kind = x, y, s.index, s.kind
        v.pulse_ms = (np.asarray(s.pulse_samples, dtype=np.float64) - s.stim_sample) * (1000.0 / self.fs)
        if s.kind in TIME_COURSE_SWEEP_KINDS:
            self._average(v, x, y, baseline=self.phase_kind(s.phase) == "baseline")
            held = self.held.setdefault(s.pathway, deque(maxlen=self.held_per_pathway))
            held.append(HeldSweep(s.index, s.phase, y, np.asarray(s.pulse_samples, dtype=np.int64) - s.start_sample,
                                  float(32767 * scale * 0.999)))
        self.n_sweeps_shown += 1
        self.v_sweeps[s.pathway] += 1

    def _average(self, v: SweepView, x: np.ndarray, y: np.ndarray, *, baseline: bool) -> None:
        same = v.average_x_ms is not None and v.average_x_ms.shape == x.shape and (
            v.average_x_ms[0] == x[0])
        if not same:  # a different sweep geometry starts the averages afresh
            v._recent.clear()
            v._bsum, v.n_baseline, v.baseline = None, 0, None
            v.average_x_ms = x
        v._recent.append(y)
        while len(v._recent) > self.n_average:
            v._recent.popleft()
        v.average = np.mean(np.stack(v._recent), axis=0)
        v.n_average = len(v._recent)
        if baseline:
            v._bsum = y.copy() if v._bsum is None else v._bsum + y
            v.n_baseline += 1
            v.baseline = v._bsum / v.n_baseline

    def _on_measured(self, m: Measured) -> None:
        self._ensure_pathway(m.pathway)
        self._advance(m.sample)
        if m.records is None or len(m.records) == 0 or m.averaged_n:  # the time course shows single sweeps
            return
        if m.remeasure:  # a new analysis version (rig.detector.versions)
            return self._remeasured(m)
        rec = m.records[0]
        self.latest_measure[m.pathway] = (m.sweep_index, rec)
        self.v_sweeps[m.pathway] += 1  # markers on the latest sweep
        info = self._sweep_meta.get(m.sweep_index)
        kind = info.kind if info else "test"
        slope = _first_field(rec, "slope_mV_per_ms", "slope")
        if self.phase_kind(m.phase) in IO_PHASE_KINDS or kind == "io":
            if info is not None:
                self.io_points[m.pathway].append((info.intensity_uA, slope))
                self.v_io += 1
            return
        if kind not in TIME_COURSE_SWEEP_KINDS:
            return
        t_s = (info.stim_sample if info else m.sample) / self.fs
        self.time_course[m.pathway].append(
            t_s, slope, _first_field(rec, "amplitude_mV", "amplitude"),
            _first_field(rec, "volley_mV", "volley"), m.sweep_index, m.phase,
            int(np.nan_to_num(_first_field(rec, "flags"))),
            kind in results.RESULT_SWEEP_KINDS, paired_ratio(m.records))
        self.v_time_course += 1

    # ------------------------------------------------------------------ derived values
    def baseline_phase(self) -> int | None:
        """Index of the result's reference baseline phase (:mod:`rig.analysis.results`) among the
        phases started so far."""
        return results.reference_baseline_phase((ph.index, ph.kind) for ph in self.phases)

    def result(self, pathway: int, field_name: str = "slope") -> results.PathwayResult:
        """The result of ``pathway`` so far (:func:`rig.analysis.results.pathway_result`) for one
        time-course field (slope, amplitude, volley); cached until a point or a phase arrives."""
        tc = self.time_course[pathway]
        ref = self.baseline_phase()
        key = (tc.n, ref, len(self.phases), self._baseline_from_s(ref, pathway))
        cached = self._result_cache.get((pathway, field_name))
        if cached is not None and cached[0] == key:
            return cached[1]
        t = tc["t_s"]
        end_s = float(t[-1]) if tc.n else 0.0
        r = results.pathway_result(pathway, t, tc[field_name], tc["flags"], tc["phase"], ref, end_s,
                                   sweep=tc["sweep"], counts=tc["is_test"], baseline_from_s=key[3])
        self._result_cache[(pathway, field_name)] = (key, r)
        return r

    def baseline_mean(self, pathway: int, field_name: str = "slope") -> float:
        """The result's baseline mean of ``field_name`` (NaN before a baseline)."""
        if pathway not in self.time_course:
            return math.nan
        b = self.result(pathway, field_name).baseline_mean
        return math.nan if b is None else b

    def time_course_xy(self, pathway: int, field_name: str = "slope",
                       percent: bool = True) -> tuple[np.ndarray, np.ndarray, bool]:
        """(t in min, values, is_percent) of the valid points: the result's time course (% of
        baseline) once a baseline exists, else the raw values."""
        tc = self.time_course[pathway]
        r = self.result(pathway, field_name) if percent else None
        if r is not None and r.baseline_mean:  # None or 0: no baseline to normalise to
            return r.t_min, r.percent, True
        ok = results.valid(tc["flags"], tc[field_name])
        return tc["t_s"][ok] / 60.0, tc[field_name][ok], False

    @property
    def elapsed_s(self) -> float:
        return self.now_sample / self.fs

    def current_phase(self) -> PhaseInfo | None:
        return self.phases[-1] if self.phases else None

    def phase_spans(self) -> list[tuple[PhaseInfo, float, float]]:
        """(phase, start s, end s); the current phase ends now."""
        out = []
        for i, ph in enumerate(self.phases):
            end = self.phases[i + 1].start_s if i + 1 < len(self.phases) else self.elapsed_s
            out.append((ph, ph.start_s, max(end, ph.start_s)))
        return out

    def marker_events(self) -> list[EventInfo]:
        """Events drawn as vertical markers on the time course."""
        return [e for e in self.events if e.marker]
