"""Closed-loop latency, measured on a simulated run with a display-like consumer running.

* ``loop_latency_ms_p50/p99``: from the arrival of the block holding a sweep's last sample (the
  device read returns) to the controller's decision on that sweep (detector + controller), as the
  engine records it (``EngineStats.control_latency_ms``).
* ``output_horizon_ms``: from a decision to the first output sample it can affect — the samples
  already written ahead at the moment of the decision (median over the run; the rig's
  ``engine.horizon_ms`` plus up to one block).
* ``loop_window_after_pulse_ms``: how long after a (last) pulse the analysis windows, and so the
  earliest decision, end — the engine decides as soon as they are in, not at the end of the sweep.
Reference in the same run: the detector alone on the same kind of sweep (``loop_detector_ms_p50``).
"""

from __future__ import annotations

import queue
import threading
import time

import numpy as np

from rig import detector
from rig.core.documents import Sweep
from rig.core.plan import Phase, Plan, Stimulus, TestSchedule
from rig.experiment.assemble import assemble_run, scaling_for
from rig.protocol.rigfile import load_rig


def _plan(fs: float, width: int, pre: int, post: int) -> Plan:
    """I/O curve (S1/S2) → gated baseline (S1/S2 every 2 s) → TBS on S1 → follow-up; ~3 min."""
    step = int(1.0 * fs)
    io = [Stimulus(int(0.05 * fs) + k * step, k % 2, "io", intensity_uA=float(uA), width_samples=width,
                   pre_samples=pre, post_samples=post)
          for k, uA in enumerate(np.repeat([30, 60, 90, 120, 150, 180, 240, 300], 2))]
    test = TestSchedule(int(2 * fs), (0, 1), int(0.05 * fs))
    isi, ibi = int(0.01 * fs), int(0.2 * fs)
    offs = tuple(b * ibi + k * isi for b in range(10) for k in range(4))
    tbs = Stimulus(pre, 0, "train", offs, width_samples=width, pre_samples=pre, post_samples=post)
    return Plan(
        "latency bench", fs,
        (Phase("io", "io_curve", len(io) * step, stimuli=tuple(io),
               info={"set_intensity": {"rule": "percent_of_max", "percent": 40}}),
         Phase("baseline", "baseline", int(60 * fs), test=test, max_duration_samples=int(120 * fs),
               info={"stability": {"max_drift_percent_per_10min": 100, "max_halves_diff_percent": 30,
                                   "window_min": 1}, "on_unstable": "proceed"}),
         Phase("TBS", "induction", pre + offs[-1] + post + int(1 * fs), stimuli=(tbs,), info={"protocol": "tbs"}),
         Phase("follow-up", "follow_up", int(90 * fs), test=test)),
        pathways=(0, 1), test_intensity_uA=(100.0, 100.0), pulse_width_samples=width,
        sweep_pre_samples=pre, sweep_post_samples=post,
    )


class _DisplaySim:
    """A display-like consumer: bounded queue, its own thread, mV conversion + peak decimation."""

    def __init__(self, scale_mV: float) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=256)
        self.scale = scale_mV
        self.dropped = 0
        self.drawn = 0
        self._t = threading.Thread(target=self._loop, daemon=True, name="display-sim")
        self._t.start()

    def __call__(self, doc: object) -> None:
        try:
            self.q.put_nowait(doc)
        except queue.Full:
            self.dropped += 1

    def _loop(self) -> None:
        while True:
            doc = self.q.get()
            if doc is None:
                return
            if isinstance(doc, Sweep):
                y = doc.counts[0].astype(np.float64) * self.scale
                n = y.size // 2 * 2
                _ = np.maximum(y[:n:2], y[1:n:2]).min()
                self.drawn += 1

    def close(self) -> None:
        self.q.put(None)
        self._t.join(2.0)


def bench_loop(speed: float = 20.0) -> dict:
    """Run the closed-loop bench (~3 min of experiment at ``speed``× real time); see module doc."""
    rig, _ = load_rig(None)
    fs = rig.sample_rate_hz
    width = max(1, int(round(100e-6 * fs)))
    pre, post = int(0.02 * fs), int(0.08 * fs)
    plan = _plan(fs, width, pre, post)
    block = max(1, int(round(rig.engine.block_ms / 1000 * fs)))
    display = _DisplaySim(float(scaling_for(rig, 1).mV_per_count[0]))
    horizon = int(rig.engine.horizon_ms / 1000 * fs)
    # the rig file's slice model, wiring and limits, assembled as `rig run` does (no file)
    run = assemble_run(plan, rig, seed=1, speed=speed, observers=[display], block=block, horizon=horizon)
    ctl, eng = run.controller, run.engine
    ahead: list[int] = []
    inner = ctl.on_measured

    def on_measured(doc):  # decision → first sample it can affect
        out = inner(doc)
        ahead.append(ctl.generated_until - eng.acquired_until)
        return out

    ctl.on_measured = on_measured  # type: ignore[method-assign]
    try:
        stop = eng.run(threading.Event())
    finally:
        display.close()
        run.close()
    lat = np.asarray(eng.stats.control_latency_ms or [np.nan])
    # reference: the detector alone on a test sweep of the same length
    x = np.zeros(pre + post)
    x[pre + 60 : pre + 400] = -0.5
    t_det = []
    for _ in range(300):
        t0 = time.perf_counter()
        detector.measure_pulses(x, np.array([pre]), fs, eng.windows.of(0))
        t_det.append((time.perf_counter() - t0) * 1e3)
    return {
        "loop_latency_ms_p50": float(np.nanpercentile(lat, 50)),
        "loop_latency_ms_p99": float(np.nanpercentile(lat, 99)),
        "loop_latency_ms_max": float(np.nanmax(lat)),
        "loop_decisions": int(lat.size),
        "loop_detector_ms_p50": float(np.median(t_det)),
        "output_horizon_ms": float(np.median(ahead) / fs * 1e3) if ahead else float(horizon / fs * 1e3),
        "output_horizon_configured_ms": float(rig.engine.horizon_ms),
        "loop_window_after_pulse_ms": eng._analysis_tail() / fs * 1e3,
        "loop_block_ms": block / fs * 1e3,
        "loop_speed": speed,
        "loop_stop_reason": stop.reason,
        "loop_display_dropped": display.dropped,
    }
