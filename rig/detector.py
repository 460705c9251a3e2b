"""Online fEPSP measurement (numba): baseline, initial slope by regression, amplitude.

One record of MEASUREMENT_DTYPE per measured pulse. Windows are in ms relative to the pulse onset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from numba import njit

NO_RESPONSE = 1
SATURATED = 2
WINDOW_OUTSIDE = 4
NONFINITE = 8

MEASUREMENT_DTYPE = np.dtype(
    [
        ("baseline_mV", "f8"),
        ("noise_mV", "f8"),
        ("slope_mV_per_ms", "f8"),
        ("amplitude_mV", "f8"),
        ("peak_latency_ms", "f8"),
        ("flags", "u4"),
    ]
)


@dataclass(frozen=True)
class Windows:
    """Analysis windows, ms relative to the stimulus onset."""

    baseline: tuple[float, float] = (-5.0, -0.5)
    slope: tuple[float, float] = (3.0, 4.5)
    peak: tuple[float, float] = (2.5, 15.0)

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Windows:
        return cls(**{k: tuple(v) for k, v in d.items()})

    def replace(self, **kw: tuple[float, float]) -> Windows:
        return replace(self, **kw)


@njit(cache=True, nogil=True)
def _measure(x, stim, fs, b0, b1, s0, s1, p0, p1, clip):  # pragma: no cover - jitted
    out = np.full(5, np.nan)
    flags = 0
    n = x.shape[0]
    ms = fs / 1000.0
    ib0, ib1 = stim + int(round(b0 * ms)), stim + int(round(b1 * ms))
    is0, is1 = stim + int(round(s0 * ms)), stim + int(round(s1 * ms))
    ip0, ip1 = stim + int(round(p0 * ms)), stim + int(round(p1 * ms))
    if ib0 < 0 or ip1 > n or is1 > n or ib1 <= ib0 or is1 - is0 < 2:
        return out, WINDOW_OUTSIDE
    m = 0.0
    for i in range(ib0, ib1):
        m += x[i]
    m /= ib1 - ib0
    v = 0.0
    for i in range(ib0, ib1):
        v += (x[i] - m) ** 2
    sd = np.sqrt(v / (ib1 - ib0))
    # regression slope (mV/ms)
    k = is1 - is0
    st = 0.0
    sx = 0.0
    stt = 0.0
    stx = 0.0
    for j in range(k):
        t = j / ms
        xv = x[is0 + j]
        if clip > 0 and abs(xv) >= clip:
            flags |= SATURATED
        st += t
        sx += xv
        stt += t * t
        stx += t * xv
    slope = (k * stx - st * sx) / (k * stt - st * st)
    imin = ip0
    for i in range(ip0, ip1):
        if x[i] < x[imin]:
            imin = i
    amp = x[imin] - m
    if not np.isfinite(slope) or not np.isfinite(amp):
        flags |= NONFINITE
    elif abs(amp) < 3 * sd:
        flags |= NO_RESPONSE
    out[0] = m
    out[1] = sd
    out[2] = slope
    out[3] = amp
    out[4] = (imin - stim) / ms
    return out, flags


def measure(
    trace_mV: np.ndarray, stim_index: int, fs_hz: float, windows: Windows, clip_mV: float | None = None
) -> np.ndarray:
    """Measure the response to the pulse at ``stim_index``: shape-(1,) MEASUREMENT_DTYPE."""
    return measure_pulses(trace_mV, np.array([stim_index], dtype=np.int64), fs_hz, windows, clip_mV)


def measure_pulses(
    trace_mV: np.ndarray,
    pulse_indices: np.ndarray,
    fs_hz: float,
    windows: Windows,
    clip_mV: float | None = None,
) -> np.ndarray:
    """Measure every pulse of a train (baseline from the window before the first pulse)."""
    x = np.ascontiguousarray(trace_mV, dtype=np.float64)
    rec = np.zeros(len(pulse_indices), dtype=MEASUREMENT_DTYPE)
    b0, b1 = windows.baseline
    s0, s1 = windows.slope
    p0, p1 = windows.peak
    clip = float(clip_mV) if clip_mV else 0.0
    first = int(pulse_indices[0]) if len(pulse_indices) else 0
    for k, stim in enumerate(pulse_indices):
        vals, flags = _measure(x, int(stim), float(fs_hz), b0, b1, s0, s1, p0, p1, clip)
        if k > 0:  # inside a train: baseline is the pre-train baseline
            base, _ = _measure(x, first, float(fs_hz), b0, b1, s0, s1, p0, p1, clip)
            vals[3] = vals[3] + vals[0] - base[0]
            vals[0] = base[0]
        rec[k] = (vals[0], vals[1], vals[2], vals[3], vals[4], flags)
    return rec


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every jitted function before a run."""
    x = np.zeros(2000)
    measure(x, 400, 20000.0, Windows())
