"""Loopback self-test: AO wired to an AI channel; pulses are sent at known samples by the engine
(its write-ahead path, the rig's wiring and limits, assembled in :mod:`rig.experiment.assemble`)
and found again in the sweeps acquired around them.

The timing error of pulse *i* is (first sample ≥ half amplitude) − (sample it was written at),
in samples; jitter is the standard deviation of those errors. On a correct rig both are 0 (or a
constant ±1 set by the board's AO update vs. AI conversion order); on the simulator both are 0.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from drivers.base import Device
from rig.core.documents import Event, Sweep
from rig.core.plan import Phase, Plan, Stimulus
from rig.stimulus import OutputMap, StimLimits


@dataclass(frozen=True)
class SelftestConfig:
    """Pulse train of the test (volts at the AO, seconds)."""

    ao_index: int = 0
    ai_index: int = 1
    n_pulses: int = 20
    interval_s: float = 0.1
    first_s: float = 0.2
    width_s: float = 0.002
    amplitude_V: float = 1.0
    horizon_s: float = 0.3
    tolerance_samples: int = 1  # |error| allowed for "passed"


@dataclass
class SelftestResult:
    sample_rate_hz: float
    ao_channel: str
    ai_channel: str
    expected: list[int]
    found: list[int | None]
    errors_samples: list[int]
    mean_error_samples: float | None
    jitter_samples: float | None
    max_abs_error_samples: int | None
    missing: int
    gaps: int
    passed: bool
    config: dict[str, Any] = field(default_factory=dict)
    wall_time: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pulse_onsets(cfg: SelftestConfig, fs: float) -> list[int]:
    """Absolute onset samples of the test pulses."""
    return [int(round((cfg.first_s + i * cfg.interval_s) * fs)) for i in range(cfg.n_pulses)]


def selftest_plan(cfg: SelftestConfig, fs: float, n_pathways: int, uA_per_V: float,
                  limits: StimLimits) -> Plan:
    """The test as a plan: one pulse per sweep on pathway ``cfg.ao_index`` at ``amplitude_V``
    (``uA_per_V`` of its isolator), each sweep spanning ± half an interval around its pulse. The
    pulse is as wide as ``width_s`` or the rig's widest allowed pulse, whichever is shorter."""
    onsets = pulse_onsets(cfg, fs)
    width = max(2, min(int(round(cfg.width_s * fs)), int(limits.max_width_us * 1e-6 * fs)))
    half = max(width + 2, min(int(round(cfg.interval_s * fs)) // 2, int(0.05 * fs)))
    stims = tuple(Stimulus(k, cfg.ao_index, "selftest", intensity_uA=cfg.amplitude_V * uA_per_V,
                           width_samples=width, pre_samples=half, post_samples=half) for k in onsets)
    dur = onsets[-1] + 2 * half
    return Plan("selftest", fs, (Phase("loopback", "selftest", dur, stimuli=stims),),
                pathways=tuple(range(n_pathways)), test_intensity_uA=(0.0,) * n_pathways,
                pulse_width_samples=width, sweep_pre_samples=half, sweep_post_samples=half)


def find_onsets(signal: np.ndarray, valid: np.ndarray, expected: list[int], threshold: float,
                search: int) -> list[int | None]:
    """First upward crossing of ``threshold`` within ±``search`` samples of each expected onset
    (None when absent or when the window holds samples lost in a gap)."""
    out: list[int | None] = []
    for k in expected:
        lo, hi = max(1, k - search), min(len(signal), k + search)
        if hi <= lo or not valid[lo - 1 : hi].all():
            out.append(None)
            continue
        seg = signal[lo - 1 : hi]
        up = np.flatnonzero((seg[:-1] < threshold) & (seg[1:] >= threshold))
        out.append(int(lo + up[0]) if up.size else None)
    return out


@dataclass
class Acquired:
    """What the test pulses produced: every AI in volts at the ADC over the test (``signal``,
    ``valid`` where a sweep covered it), the onsets written, the pulse width and the gaps."""

    signal: np.ndarray  # (n_ai, samples) V at the ADC
    valid: np.ndarray  # (samples,) bool
    onsets: list[int]
    width_samples: int
    pre_samples: int
    fs: float
    gaps: int
    range_V: list[float]


def acquire(device: Device, cfg: SelftestConfig, rig: Any = None) -> Acquired:
    """Send the test pulses through the engine on ``device`` (not yet started), with ``rig``'s
    wiring and limits (None: AO index = pathway, 1 µA per V, default limits), and collect every AI
    in volts. Outputs are zeroed and the device stopped on every exit path. Raises ``UserError``
    for pulses beyond the limits."""
    from rig.closed_loop.controller import Controller
    from rig.engine import ChannelScaling
    from rig.experiment.assemble import build_engine, check_plan_limits

    fs = device.sample_rate_hz
    n_ao, n_do = len(device.ao_channels), len(device.do_lines)
    if not 0 <= cfg.ao_index < n_ao:
        raise ValueError(f"ao_index {cfg.ao_index}: the device has {n_ao} AO channels")
    if not 0 <= cfg.ai_index < len(device.ai_channels):
        raise ValueError(f"ai_index {cfg.ai_index}: the device has {len(device.ai_channels)} AI")
    if rig is not None:
        wiring, limits = rig.output_map(), rig.stim_limits()
        ranges = [a.range_V for a in rig.ai]
    else:
        wiring, limits = OutputMap(tuple(range(n_ao)), (1.0,) * n_ao, n_ao, n_do), StimLimits()
        ranges = []
    n_ai = len(device.ai_channels)
    ranges = (ranges + [10.0] * n_ai)[:n_ai]  # an added loopback input: ±10 V
    plan = selftest_plan(cfg, fs, len(wiring.uA_per_V), wiring.uA_per_V[cfg.ao_index], limits)
    check_plan_limits(plan, limits)
    onsets = [s.sample for s in plan.phases[0].stimuli]
    sweeps: list[Sweep] = []
    gaps: list[Event] = []

    def collect(doc: object) -> None:
        if isinstance(doc, Sweep):
            sweeps.append(doc)
        elif isinstance(doc, Event) and doc.kind == "gap":
            gaps.append(doc)

    scaling = ChannelScaling(ranges, [1.0] * n_ai)  # volts at the ADC
    engine = build_engine(device, Controller(plan, limits=limits), wiring, limits, scaling, critical=[collect],
                          horizon=int(cfg.horizon_s * fs))
    engine.online.propose_after = 0
    engine.run(threading.Event())

    total = plan.duration_samples + device.block_samples
    signal = np.zeros((n_ai, total))
    valid = np.zeros(total, bool)
    lsb = scaling.lsb_V[:, None]
    for sw in sweeps:
        n = min(sw.counts.shape[1], total - sw.start_sample)
        signal[:, sw.start_sample : sw.start_sample + n] = sw.counts[:n_ai, :n] * lsb
        valid[sw.start_sample : sw.start_sample + n] = True
    return Acquired(signal, valid, onsets, plan.pulse_width_samples, plan.sweep_pre_samples, fs, len(gaps),
                    ranges)


def timing_result(device: Device, cfg: SelftestConfig, acq: Acquired) -> SelftestResult:
    """The loopback timing of ``acq`` on AI ``cfg.ai_index``."""
    signal, valid, onsets, fs = acq.signal[cfg.ai_index], acq.valid, acq.onsets, acq.fs
    baseline = float(np.median(signal[valid])) if valid.any() else 0.0
    interval = int(round(cfg.interval_s * fs))
    found = find_onsets(signal, valid, onsets, baseline + cfg.amplitude_V / 2,
                        search=max(1, min(interval // 2, int(0.01 * fs), acq.pre_samples - 1)))
    errors = [f - e for f, e in zip(found, onsets, strict=True) if f is not None]
    missing = sum(f is None for f in found)
    err = np.asarray(errors, dtype=float)
    return SelftestResult(
        sample_rate_hz=fs,
        ao_channel=device.ao_channels[cfg.ao_index],
        ai_channel=device.ai_channels[cfg.ai_index],
        expected=onsets,
        found=found,
        errors_samples=errors,
        mean_error_samples=float(err.mean()) if errors else None,
        jitter_samples=float(err.std()) if errors else None,
        max_abs_error_samples=int(np.abs(err).max()) if errors else None,
        missing=missing,
        gaps=acq.gaps,
        passed=missing == 0 and bool(errors) and int(np.abs(err).max()) <= cfg.tolerance_samples,
        config=asdict(cfg),
        wall_time=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def run_selftest(device: Device, cfg: SelftestConfig = SelftestConfig(), *, rig: Any = None) -> SelftestResult:
    """Run the loopback test on ``device`` (not yet started): :func:`acquire`, then
    :func:`timing_result` on AI ``cfg.ai_index``."""
    return timing_result(device, cfg, acquire(device, cfg, rig))


def format_result(r: SelftestResult) -> str:
    head = "PASSED" if r.passed else "FAILED"
    if not r.errors_samples:
        return f"selftest {head}: no pulse found on {r.ai_channel} (is {r.ao_channel} wired to it?)"
    return (
        f"selftest {head}: {len(r.expected) - r.missing}/{len(r.expected)} pulses "
        f"{r.ao_channel} → {r.ai_channel}; timing error mean {r.mean_error_samples:+.2f} samples, "
        f"max |error| {r.max_abs_error_samples}, jitter {r.jitter_samples:.2f} samples "
        f"({r.sample_rate_hz:.0f} Hz){'; gaps: ' + str(r.gaps) if r.gaps else ''}"
    )
