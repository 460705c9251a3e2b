"""Loopback self-test: AO wired to an AI channel; pulses are sent at known samples through the
normal :class:`drivers.base.Device` interface and found again in the acquired signal.

The timing error of pulse *i* is (first sample ≥ half amplitude) − (sample it was written at),
in samples; jitter is the standard deviation of those errors. On a correct rig both are 0 (or a
constant ±1 set by the board's AO update vs. AI conversion order); on the simulator both are 0.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from drivers.base import Device


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


def render(start: int, n: int, onsets: list[int], width: int, volts: float, n_ao: int,
           ao_index: int, n_do: int) -> tuple[np.ndarray, np.ndarray]:
    """AO (n_ao, n) V with rectangular pulses of ``width`` samples; DO all low."""
    ao = np.zeros((n_ao, n))
    for k in onsets:
        lo, hi = max(k, start), min(k + width, start + n)
        if lo < hi:
            ao[ao_index, lo - start : hi - start] = volts
    return ao, np.zeros((n_do, n), np.uint8)


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


def run_selftest(device: Device, cfg: SelftestConfig = SelftestConfig()) -> SelftestResult:
    """Run the loopback test on ``device`` (not yet started). Outputs are zeroed and the device
    stopped on every exit path."""
    fs = device.sample_rate_hz
    n_ao, n_do = len(device.ao_channels), len(device.do_lines)
    if not 0 <= cfg.ao_index < n_ao:
        raise ValueError(f"ao_index {cfg.ao_index}: the device has {n_ao} AO channels")
    if not 0 <= cfg.ai_index < len(device.ai_channels):
        raise ValueError(f"ai_index {cfg.ai_index}: the device has {len(device.ai_channels)} AI")
    onsets = pulse_onsets(cfg, fs)
    width = max(2, int(round(cfg.width_s * fs)))
    interval = int(round(cfg.interval_s * fs))
    total = onsets[-1] + max(width, interval) + device.block_samples
    horizon = int(cfg.horizon_s * fs)
    signal = np.zeros(total + device.block_samples)
    valid = np.zeros(signal.shape[0], bool)
    gaps = 0

    def write_to(target: int) -> None:
        w = device.written_until
        while w < target:
            n = min(device.block_samples, target - w)
            device.write(w, *render(w, n, onsets, width, cfg.amplitude_V, n_ao, cfg.ao_index, n_do))
            w = device.written_until

    device.zero_outputs()
    try:
        write_to(horizon)
        device.start()
        acquired = 0
        while acquired < total:
            blk = device.read()
            gaps += blk.gap > 0
            n = min(blk.data.shape[1], signal.shape[0] - blk.start)
            if n > 0:
                signal[blk.start : blk.start + n] = blk.data[cfg.ai_index, :n]
                valid[blk.start : blk.start + n] = True
            acquired = blk.start + blk.data.shape[1]
            write_to(acquired + horizon)
    finally:
        try:
            device.zero_outputs()
        finally:
            device.stop()

    baseline = float(np.median(signal[valid])) if valid.any() else 0.0
    found = find_onsets(signal, valid, onsets, baseline + cfg.amplitude_V / 2,
                        search=max(1, min(interval // 2, int(0.01 * fs))))
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
        gaps=gaps,
        passed=missing == 0 and bool(errors) and int(np.abs(err).max()) <= cfg.tolerance_samples,
        config=asdict(cfg),
        wall_time=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


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
