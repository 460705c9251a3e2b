"""A synthetic document stream (no engine, no detector) for display tests and the display bench.

It produces what the engine streams for a two-pathway LTP experiment: RunStart, PhaseStarts,
Sweeps of int16 counts with an fEPSP-like waveform (volley ≈ 2 ms, trough ≈ 6 ms, decay 15 ms,
noise 25 µV RMS) and Measured records whose slope follows a chosen time course (100 % baseline,
then potentiation after the induction phase).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rig.core.documents import Measured, PhaseStart, Progress, RunStart, RunStop, Sweep

SCALE_MV_PER_COUNT = 10.0 / 32768 * 1000 / 100  # ±10 V ADC, ×100 amplifier gain → mV/count

try:  # the detector's record type when it exists, else the fields the display reads
    from rig.detector.measurement import MEASUREMENT_DTYPE  # type: ignore[attr-defined]
except Exception:  # noqa: BLE001 — detector not merged yet, or fails to import
    MEASUREMENT_DTYPE = np.dtype([
        ("slope_mV_per_ms", "f8"), ("amplitude_mV", "f8"), ("volley_mV", "f8"),
        ("baseline_mV", "f8"), ("flags", "u4"),
    ])


def fepsp_mV(x_ms: np.ndarray, scale: float, rng: np.random.Generator | None) -> np.ndarray:
    """fEPSP-like sweep (mV) at times ``x_ms`` from the stimulus; ``scale`` 1 = baseline."""
    t = np.clip(x_ms, 0.0, None)
    on = x_ms > 0
    epsp = -0.5 * scale * (np.exp(-(t - 3.0).clip(0) / 15.0) - np.exp(-(t - 3.0).clip(0) / 2.0))
    volley = -0.06 * np.exp(-0.5 * ((x_ms - 2.0) / 0.3) ** 2)
    artifact = np.where((x_ms >= 0) & (x_ms < 0.3), 3.0, 0.0)
    y = np.where(on, epsp * 2.2 + volley + artifact, 0.0)
    if rng is not None:
        y = y + rng.normal(0.0, 0.025, size=x_ms.shape)
    return y


def _record(slope: float, amplitude: float) -> np.ndarray:
    rec = np.zeros(1, dtype=MEASUREMENT_DTYPE)
    for name, value in (("slope_mV_per_ms", slope), ("amplitude_mV", amplitude),
                        ("volley_mV", -0.06), ("baseline_mV", 0.0)):
        if name in rec.dtype.names:
            rec[name] = value
    return rec


def ltp_stream(fs: float = 20_000.0, pathways: tuple[int, ...] = (0, 1),
               interval_s: float = 15.0, baseline_min: float = 20.0, followup_min: float = 60.0,
               ltp_percent: float = 160.0, sweep_ms: tuple[float, float] = (-20.0, 80.0),
               seed: int = 0, with_sweeps: bool = True) -> Iterator[object]:
    """Documents of a baseline → TBS induction → follow-up experiment, in stream order.

    One test sweep every ``interval_s`` s, alternating over ``pathways``; pathway 0 is
    potentiated to ``ltp_percent`` % after induction, the others stay at 100 %.
    """
    rng = np.random.default_rng(seed)
    pre, post = int(-sweep_ms[0] * fs / 1000), int(sweep_ms[1] * fs / 1000)
    x = (np.arange(pre + post) - pre) * 1000.0 / fs
    base_n = int(baseline_min * 60 / interval_s)
    follow_n = int(followup_min * 60 / interval_s)
    ind_len = int(30 * fs)
    planned = int((base_n + follow_n) * interval_s * fs) + ind_len
    yield RunStart(fs, ("ai0",), (SCALE_MV_PER_COUNT,), tuple(pathways), "synthetic TBS",
                   planned, 0.0, seed)
    yield PhaseStart(0, "baseline", "baseline", 0)
    sample, index, phase = 0, 0, 0
    for k in range(base_n + follow_n):
        if k == base_n:
            yield PhaseStart(1, "TBS", "induction", sample)
            sample += ind_len
            phase = 2
            yield PhaseStart(2, "follow-up", "followup", sample)
        p = pathways[k % len(pathways)]
        stim = sample + pre
        gain = 1.0
        if phase == 2 and p == pathways[0]:
            minutes = (k - base_n) * interval_s / 60
            gain = 1 + (ltp_percent / 100 - 1) * (0.7 + 0.3 * np.exp(-minutes / 10))
        gain *= 1 + rng.normal(0, 0.06)
        if with_sweeps:
            y = fepsp_mV(x, gain, rng)
            counts = np.clip(np.round(y / SCALE_MV_PER_COUNT), -32768, 32767).astype(np.int16)
            yield Sweep(index, p, phase, "test", sample, stim, np.array([stim], np.int64),
                        50.0, 2, counts[None, :], 0.0)
        yield Measured(index, p, phase, stim, _record(-0.15 * gain, -0.45 * gain))
        yield Progress(sample, planned, index + 1)
        index += 1
        sample += int(interval_s * fs)
    yield RunStop(sample, "completed")
