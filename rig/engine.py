"""The engine: continuous acquisition, write-ahead stimulation, sweep cutting, online measurement.

One thread runs :meth:`Engine.run`. Each device block goes into a ring buffer of int16 ADC
counts; outputs are rendered and written ``horizon_samples`` ahead of the samples acquired; a
sweep is cut as soon as its last sample has arrived, measured, and streamed to the subscribers.
What to stimulate comes from a :class:`rig.core.scheduler.Scheduler` (the closed-loop controller).
An unpaced device is read many blocks at a time where nothing happens (:mod:`rig.core.readahead`).

Subscribers come in two kinds. *Critical* sinks (storage) get every document first: a sweep is on disk before the
next one is cut, and an exception in one stops the run safely (outputs zeroed, reason ``error``). *Observers*
(display feed, progress, control endpoint, user subscribers) get it next: an exception in one is caught and recorded
as an ``observer_error`` event (at most one per observer per :data:`OBSERVER_REPORT_S` of samples, with the count;
see :mod:`rig.core.subscribers`) and the run goes on. All exits zero the outputs.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np

from drivers.base import RATE_TOLERANCE, Device, OutputUnderflowError, check_sample_rate  # noqa: F401 - re-exported
from rig import detector
from rig.core import events as ev
from rig.core.delivery import DeliveryLedger
from rig.core.documents import Measured, PhaseStart, Progress, RunStart, RunStop, Sweep
from rig.core.jit import load_numba
from rig.core.plan import Stimulus, ValveChange
from rig.core.readahead import ReadAhead, ring_samples
from rig.core.scaling import ChannelScaling, to_counts  # ChannelScaling re-exported (rig.engine.ChannelScaling)
from rig.core.scheduler import Scheduler
from rig.core.subscribers import Fanout, Subscriber
from rig.core.wiring import WiringChecks
from rig.detector.hardware import SweepWiring, WiringCheck
from rig.detector.online import OnlineSweeps, proposal_event
from rig.detector.versions import AnalysisVersions
from rig.stimulus import OutputMap, StimLimits, render_block

OBSERVER_REPORT_S = 10.0  # an observer that keeps failing is reported at most this often (sample time)


@dataclass
class _Pending:
    stim: Stimulus
    intensity_uA: float
    phase: int
    first: int
    end: int
    early: tuple[Measured, list, float] | None = None  # measured + decided (ms) once its windows were in
    hw: SweepWiring | None = None  # gain telegraph and isolator monitor of this sweep


@dataclass
class EngineStats:
    gaps: int = 0
    lost_samples: int = 0
    late_writes: int = 0
    stimuli_missed: int = 0  # scheduled but never delivered (outputs late, or off after an underflow)
    sweeps: int = 0
    samples: int = 0
    reads: int = 0  # device reads (fewer than blocks when reading ahead)
    loop_latency_ms: list[float] = field(default_factory=list)
    # closed loop: arrival of the block holding a sweep's last sample → the controller's decision
    control_latency_ms: list[float] = field(default_factory=list)


class Engine(ReadAhead):
    """Runs one experiment on one device, streaming documents to subscribers."""

    def __init__(
        self,
        device: Device,
        controller: Scheduler,
        wiring: OutputMap,
        limits: StimLimits,
        scaling: ChannelScaling,
        critical: list[Subscriber],
        *,
        observers: list[Subscriber] = (),
        horizon_samples: int,
        windows: detector.Windows | detector.PathwayWindows | None = None,
        field_channel: int = 0,
        seed: int | None = None,
        provenance: dict | None = None,
        wiring_checks: WiringChecks | None = None,
    ) -> None:
        plan = controller.plan
        check_sample_rate(float(plan.sample_rate_hz), float(device.sample_rate_hz))
        self.dev = device
        self.ctl = controller
        self.wiring = wiring
        self.limits = limits
        self.scaling = scaling
        self.horizon = int(horizon_samples)
        self.windows = detector.PathwayWindows.of_any(windows)  # per pathway (rig.detector.windows)
        self.field_channel = field_channel
        self.seed = seed
        self.provenance = provenance or {}
        self.fs = float(plan.sample_rate_hz)  # one rate: the rig file's, carried by the plan
        self.fanout = Fanout(critical, observers, lambda: self.acquired_until, int(OBSERVER_REPORT_S * self.fs))
        self.stats = EngineStats()
        ring = ring_samples(device, self.fs, plan.max_sweep_samples() + self.horizon + 2 * device.block_samples)
        self.ring = np.zeros((len(device.ai_channels), ring), dtype=np.int16)
        self.ring_len, self.acquired_until = ring, 0
        self._do_state = np.zeros(wiring.n_do, dtype=np.uint8)
        self._pending: list[_Pending] = []
        self._valves: list[ValveChange] = []
        self._stims: list[tuple[Stimulus, float]] = []
        self._sweep_index = 0
        self.delivery = DeliveryLedger(plan, getattr(controller, "name", lambda pw: f"S{pw + 1}"))
        self.stimulation_off = False  # set after an output underflow: record on, stimulate never again
        an = (plan.closed_loop or {}).get("analysis", {})
        self.online = OnlineSweeps(self.fs, int(an.get("settle_sweeps", 10)), int(an.get("average", 1)))
        self.versions = AnalysisVersions(self.fs, online=self.online)  # windows change: a new analysis version
        self._mV_per_count = scaling.mV_per_count
        self._t_block = time.perf_counter()  # arrival of the last block read
        self.hw = WiringCheck(wiring_checks or WiringChecks(), scaling.lsb_V, self.fs,
                              float(scaling.gain[field_channel]))
        self.read_ahead_blocks = max(1, min(getattr(device, "max_read_blocks", 1), ring // 2 // device.block_samples))

    # -- documents ---------------------------------------------------------------------------
    def emit(self, doc: object) -> None:
        """Critical sinks first (their errors stop the run), then the observers (never)."""
        self.fanout.emit(doc)

    def _emit_safely(self, doc: object) -> None:
        """Emit on the exit path: one failing subscriber must not stop the others."""
        self.fanout.emit_safely(doc)

    # -- outputs -----------------------------------------------------------------------------
    def _write_ahead(self, target: int, span: int | None = None) -> None:
        """Render and write outputs up to ``target`` (exclusive), one scheduler call per ``span`` (a block)."""
        w = self.dev.written_until
        if w < self.acquired_until:
            self.stats.late_writes += 1
            self.emit(ev.LateWrite(sample=w, text=f"outputs behind acquisition by {self.acquired_until - w} samples",
                                   behind_samples=self.acquired_until - w))
        while w < target:
            n = min(target - w, span or self.dev.block_samples)
            n = self._catch_up(w, n, target) if w + n <= self.acquired_until else n  # acquired already: a gap
            stims, valves, docs = self.ctl.schedule(w + n)
            for d in docs:
                if isinstance(d, PhaseStart):
                    self.delivery.phase_started(d.index, d.kind, d.sample)
                self.emit(d)
            for s, i, ph in stims:
                if self.stimulation_off or s.sample < self.acquired_until:  # off, or outputs fell behind (a gap)
                    self._missed(s, "outputs off after an underflow" if self.stimulation_off else "outputs late")
                    continue
                a, b = s.sweep_bounds()
                self._pending.append(_Pending(s, self.hw.intensity_uA(s.pathway, i), ph, a, b))
                self._stims.append((s, i))
                self.delivery.scheduled(s, i, ph)
            self._valves.extend(valves)
            active = [(s, i) for s, i in self._stims if s.sample < w + n and s.sample + s.last_pulse_end > w]
            ao, do = render_block(w, n, active, self._valves, self._do_state, self.wiring, self.fs, self.limits,
                                  lazy=bool(span) or w + n <= self.acquired_until or self.read_ahead_blocks > 1)
            if self.stimulation_off:
                ao, do = np.zeros(ao.shape), np.zeros(do.shape, dtype=np.uint8)
            try:
                self.dev.write(w, ao, do)
                self.delivery.written(w, n, not self.stimulation_off)
            except OutputUnderflowError as exc:
                self.delivery.written(w, n, False)
                # outputs are already at 0 V and stay off; keep recording, stop stimulating
                self.stimulation_off = True
                self.emit(ev.OutputUnderflow(sample=w, text=str(exc).splitlines()[0][:240]))
                undelivered = [p for p in self._pending if p.stim.sample >= self.acquired_until]
                for p in undelivered:
                    self.emit(ev.SweepDiscarded(sample=p.stim.sample, text="stimulus not delivered (output underflow)"))
                    self._missed(p.stim, "output underflow")
                self._pending = [p for p in self._pending if p not in undelivered]
                self.emit(ev.OutputsZeroed(sample=w, text="output underflow: stimulation stopped, recording continues"))
            w += n
            self._stims = [(s, i) for s, i in self._stims if s.sample + s.last_pulse_end > w]
            self._valves = [v for v in self._valves if v.sample >= w]

    def _missed(self, s: Stimulus, why: str) -> None:
        """Not delivered: an event; the first raises the ``stimulus_missed`` alarm (default stop)."""
        self.stats.stimuli_missed += 1
        self.emit(ev.StimulusMissed(sample=s.sample, text=f"{s.kind} stimulus not delivered: {why}", pathway=s.pathway))
        if self.stats.stimuli_missed == 1:
            for d in self.ctl.on_wiring("stimulus_missed", s.pathway, s.sample, why, {}):
                self.emit(d)

    # -- inputs ------------------------------------------------------------------------------
    def _store_block(self, start: int, data_V: np.ndarray | None, codes: np.ndarray | None = None,
                     lsb_V: float = 0.0) -> None:
        counts = to_counts(data_V, self.scaling.lsb_V, codes, lsb_V)  # data_V None: the codes' volts, made if needed
        n = counts.shape[1]
        i0 = start % self.ring_len
        k = min(n, self.ring_len - i0)
        self.ring[:, i0 : i0 + k] = counts[:, :k]
        if k < n:
            self.ring[:, : n - k] = counts[:, k:]
        self.acquired_until = start + n

    def _fill_gap(self, start: int, n: int) -> None:
        """Lost samples: no sweep that touches them is recorded; the ring holds zeros there."""
        hit = [p for p in self._pending if p.first < start + n and p.end > start]
        for p in hit:
            self.emit(ev.SweepDiscarded(sample=p.stim.sample, text=f"{p.stim.kind} sweep lost samples in a gap",
                                        gap_start=start, gap_samples=n))
        self._pending = [p for p in self._pending if p not in hit]
        keep = min(n, self.ring_len)
        self._store_block(start + n - keep, np.zeros((self.ring.shape[0], keep)))

    def _slice(self, a: int, b: int) -> np.ndarray:
        idx = np.arange(a, b) % self.ring_len
        return self.ring[:, idx]

    def _analysis_tail(self) -> int:
        """Samples after a sweep's last pulse that its measurement reads (windows + smoothing)."""
        return detector.tail_samples(self.windows, self.fs)

    def _field(self, p: _Pending, counts: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(field counts, mV per count, pulse indices) of a sweep's samples from ``p.first``."""
        scale = p.hw.mV_per_count if p.hw is not None and p.hw.mV_per_count else self._mV_per_count[self.field_channel]
        return counts[self.field_channel], float(scale), p.stim.sample - p.first + np.asarray(p.stim.pulse_offsets)

    def _measure(self, p: _Pending, upto: int) -> tuple[Measured, list, float]:
        """Measure samples [p.first, upto) of a sweep and let the controller decide on it."""
        t0 = time.perf_counter()
        counts = self._slice(p.first, upto)
        pulses = p.stim.sample + np.asarray(p.stim.pulse_offsets, dtype=np.int64)
        hw_docs: list = []
        if self.hw.active:  # gain telegraph, isolator monitor (rig.detector.hardware)
            p.hw, hw_docs = self._check_wiring(p, counts, pulses)
        field, scale, rel = self._field(p, counts)
        records = detector.measure_pulses(field * scale, rel, self.fs, self.windows.of(p.stim.pathway),
                                          32767 * scale * 0.999)
        meas = Measured(-1, p.stim.pathway, p.phase, p.stim.sample, records)
        decisions = hw_docs + self.ctl.on_measured(meas)
        # closed-loop latency: the block holding the last analysed sample arrived → decision made
        t1 = time.perf_counter()
        self.stats.control_latency_ms.append((t1 - self._t_block) * 1e3)
        return meas, decisions, (t1 - t0) * 1e3

    def _check_wiring(self, p: _Pending, counts: np.ndarray, pulses: np.ndarray) -> tuple[SweepWiring, list]:
        """The sweep's gain and delivered current; events and the protocol's alarm rule for a mismatch."""
        kind = self.ctl.plan.phases[p.phase].kind if p.phase < len(self.ctl.plan.phases) else ""
        width = self.hw.width_samples(p.stim.pathway, p.stim.width_samples)
        hw = self.hw.on_sweep(counts, p.first, p.stim.sample, pulses, width, p.stim.pathway, p.intensity_uA, kind)
        docs = list(hw.events)
        for name, pathway, text, data in hw.alarms:
            docs.extend(self.ctl.on_wiring(name, pathway, p.stim.sample, text, data))
        return hw, docs

    def _decide_early(self) -> None:
        """The controller decides on a sweep as soon as its analysis windows have arrived; the
        sweep is recorded (same measurement) when its last sample has arrived."""
        tail = self._analysis_tail()
        for p in self._pending:
            if p.early is None and p.first >= self.acquired_until - self.ring_len:
                upto = min(p.end, p.stim.sample + p.stim.pulse_offsets[-1] + tail)
                if upto <= self.acquired_until:
                    p.early = self._measure(p, upto)

    def _test_sweep(self, p: _Pending, counts: np.ndarray, meas: Measured) -> None:
        """A single-pulse test sweep: the window proposal (the controller decides whether to apply
        it) and the averaged measurement (:mod:`rig.detector.online`)."""
        ch, pw = self.field_channel, p.stim.pathway
        trace = counts[ch].astype(np.float64) * self._mV_per_count[ch]
        stim, name = p.stim.sample - p.first, self.delivery.name(pw)
        clip_mV = 32767 * float(self._mV_per_count[ch]) * 0.999
        for d in self.online.average(pw, trace, stim, meas, self.windows.of(pw), clip_mV, self.acquired_until, name):
            self.emit(d)  # the averaged measurement's rows, then its event
        prop = self.online.proposal(pw, trace, stim, self.ctl.plan.phases[p.phase].kind, self.windows.of(pw))
        if prop is not None:
            self.emit(proposal_event(pw, prop, self.online.propose_after, self.acquired_until, name))
            for d in getattr(self.ctl, "on_windows_proposed", lambda *a: [])(pw, prop, self.windows.of(pw),
                                                                               self.acquired_until):
                self.emit(d)

    def _cut_ready(self) -> None:
        self._decide_early()
        ready = [p for p in self._pending if p.end <= self.acquired_until]
        if not ready:
            return
        self._pending = [p for p in self._pending if p.end > self.acquired_until]
        for p in sorted(ready, key=lambda q: q.end):
            if p.first < self.acquired_until - self.ring_len:
                self.emit(ev.SweepLost(sample=p.first, text="sweep older than the ring buffer"))
                continue
            counts = self._slice(p.first, p.end)
            pulses = p.stim.sample + np.asarray(p.stim.pulse_offsets, dtype=np.int64)
            sweep = Sweep(
                index=self._sweep_index, pathway=p.stim.pathway, phase=p.phase, kind=p.stim.kind,
                start_sample=p.first, stim_sample=p.stim.sample, pulse_samples=pulses,
                intensity_uA=p.intensity_uA, counts=counts, wall_time=time.time(), **self.delivery.of_sweep(p.stim),
                width_samples=self.hw.width_samples(p.stim.pathway, p.stim.width_samples),
            )
            if p.hw is not None:
                sweep = replace(sweep, gain=p.hw.gain, gain_channel=self.field_channel if p.hw.mV_per_count else -1,
                                gain_mV_per_count=p.hw.mV_per_count or math.nan, delivered_uA=p.hw.delivered_uA,
                                delivered_nC=p.hw.delivered_nC, monitor_pulses=p.hw.monitor_pulses)
            t_ready = time.perf_counter()
            meas, decisions, measure_ms = p.early if p.early is not None else self._measure(p, p.end)
            meas = replace(meas, sweep_index=self._sweep_index, analysis=self.versions.version)
            self.emit(sweep)
            self.emit(meas)
            self.versions.keep(sweep, *self._field(p, counts))
            for d in decisions:
                self.emit(d)
            self.stats.loop_latency_ms.append((time.perf_counter() - t_ready) * 1e3 + measure_ms)
            self._sweep_index += 1
            self.stats.sweeps += 1
            if p.stim.kind == "test" and p.stim.n_pulses == 1 and len(meas.records):
                self._test_sweep(p, counts, meas)

    def set_windows(self, changes: list) -> None:
        """Window changes ``(name, (a, b) ms[, source[, pathway]])``: one version per pathway (detector.versions)."""
        early = [p for p in self._pending if p.early is not None and changes]
        now = self.acquired_until
        traces = [(p.stim.pathway, *self._field(p, self._slice(p.first, min(p.end, now)))) for p in early]
        self.windows, docs, records = self.versions.apply(changes, self.windows, self.acquired_until,
                                                          self._sweep_index, traces, self.ctl)
        for p, rec in zip(early, records, strict=True):
            p.early = (replace(p.early[0], records=rec), *p.early[1:])
        for d in docs:
            self.emit(d)

    # -- the run -----------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> RunStop:
        """Acquire until the plan ends or ``stop`` is set. Outputs are zero on every exit."""
        dev = self.dev
        load_numba()  # numba, compiled kernels: loaded before the clock starts, never inside the loop
        detector.warm_up()
        dev.zero_outputs()
        self.emit(
            RunStart(
                sample_rate_hz=self.fs, ai_channels=tuple(dev.ai_channels),
                ai_scale_mV_per_count=tuple(float(x) for x in self._mV_per_count),
                pathways=self.ctl.plan.pathways, plan_name=self.ctl.plan.name,
                planned_samples=self.ctl.plan.duration_samples, wall_time=time.time(),
                seed=self.seed, provenance={**self.provenance, "windows": self.windows.to_dict(),
                                            "pathway_windows": self.windows.pathway_dict()},
            )
        )
        self.emit(ev.OutputsZeroed(sample=0, text="start-up"))
        reason, message = "completed", ""
        try:
            self._write_ahead(self.horizon)
            dev.start()
            while True:
                if stop.is_set():
                    reason, message = "interrupted", "stopped by the operator"
                    break
                blk = self._read()
                self._t_block = time.perf_counter()
                if blk.start != self.acquired_until or blk.gap:
                    lost = blk.start - self.acquired_until
                    self.stats.gaps += 1
                    self.stats.lost_samples += lost
                    self.emit(ev.Gap(sample=self.acquired_until, text=f"{lost} samples lost", samples=lost))
                    self._fill_gap(self.acquired_until, lost)
                    for d in self.ctl.on_gap(blk.start, lost):
                        self.emit(d)
                self._store_block(blk.start, None if blk.counts is not None else blk.data, blk.counts, blk.lsb_V)
                self.stats.samples = self.acquired_until
                self._cut_ready()
                for d in self.delivery.close_ready(self.acquired_until):  # inductions as delivered
                    self.emit(d)
                for d in self.ctl.poll(self.acquired_until):  # operator commands, outside events
                    self.emit(d)
                self.set_windows(self.ctl.take_windows_changes())  # operator: move a detector window
                if self.ctl.stop_request is not None:  # operator stop or a "stop" alarm
                    reason, message = self.ctl.stop_request
                    break
                done = self.ctl.finished_at is not None
                if done and not self._pending and self.acquired_until >= self.ctl.finished_at:
                    if self.ctl.end_reason:  # e.g. "aborted": the gated baseline never held
                        reason, message = self.ctl.end_reason, self.ctl.end_message
                    elif self.stats.stimuli_missed:  # never "completed" with stimuli missed
                        reason, message = "incomplete", f"{self.stats.stimuli_missed} stimuli not delivered"
                    break
                self._write_ahead(self.acquired_until + self.horizon)
                self.emit(Progress(self.acquired_until, self.ctl.plan.duration_samples, self.stats.sweeps))
        except BaseException as exc:
            reason, message = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            try:
                dev.zero_outputs()
                dev.stop()
            finally:
                for p in self._pending:
                    self._emit_safely(ev.SweepDiscarded(sample=p.first, text=f"incomplete {p.stim.kind} sweep at stop"))
                for d in self.delivery.close_ready(self.acquired_until, stopping=True,
                                                   completed=reason == "completed"):
                    self._emit_safely(d)
                self._emit_safely(ev.OutputsZeroed(sample=self.acquired_until, text=reason))
                self.fanout.report_pending()
                stop_doc = RunStop(self.acquired_until, reason, message, self.stats.gaps, self.stats.lost_samples)
                self._emit_safely(stop_doc)
        return stop_doc

