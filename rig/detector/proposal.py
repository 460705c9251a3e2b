"""Propose analysis windows from the average of the first N baseline sweeps.

Landmarks on the averaged sweep (ms after the stimulus): the artifact's end (the last sample
within the first 1.2 ms that deviates more than a threshold), the fEPSP peak (smoothed minimum),
its foot (last 10 % crossing before the peak), the fiber volley (lowest local minimum between the
artifact and the foot) and the volley's end (the highest point between the volley trough and the
20 % crossing). Windows: volley = artifact end → volley end; slope = volley end → the
``slope_rise_fraction`` (default 55 %) crossing of the rise (at least ``min_slope_ms`` long); peak
and pop-spike search = volley end → peak + 2 × (peak − volley end).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rig.detector.measurement import Windows


@dataclass(frozen=True)
class AutoWindows:
    windows: Windows
    ok: bool
    message: str = ""
    landmarks_ms: dict[str, float] = field(default_factory=dict)


def _smooth(y: np.ndarray, half: int) -> np.ndarray:
    if half <= 0:
        return y.copy()
    k = 2 * half + 1
    out = np.convolve(y, np.ones(k) / k, mode="same")
    out[:half] = y[:half]
    out[-half:] = y[-half:]
    return out


def average_sweeps(sweeps_mV: list[np.ndarray] | np.ndarray, stim_indices, n_first: int = 10):
    """Average the first ``n_first`` sweeps aligned on their stimulus: (trace, stim_index)."""
    sweeps = [np.asarray(s, dtype=np.float64) for s in list(sweeps_mV)[:n_first]]
    stims = np.broadcast_to(np.asarray(stim_indices, dtype=np.int64), (len(list(sweeps_mV)),))
    stims = stims[: len(sweeps)]
    if not sweeps:
        raise ValueError("no sweeps to average")
    pre = int(min(stims))
    post = int(min(len(s) - st for s, st in zip(sweeps, stims, strict=True)))
    if post <= 0:
        raise ValueError("stimulus outside the sweeps")
    stack = np.stack([s[st - pre : st + post] for s, st in zip(sweeps, stims, strict=True)])
    return stack.mean(axis=0), pre


def propose_windows(
    trace_mV: np.ndarray,
    stim_index: int,
    fs_hz: float,
    base: Windows | None = None,
    slope_rise_fraction: float = 0.55,
    min_slope_ms: float = 0.5,
) -> AutoWindows:
    """Windows for an (averaged) sweep; falls back to ``base`` (``ok=False``) when no response."""
    base = base or Windows()
    y = np.asarray(trace_mV, dtype=np.float64)
    s = int(stim_index)
    k = fs_hz / 1000.0
    n = y.size

    def idx(ms: float) -> int:
        return s + int(round(ms * k))

    def ms(i: float) -> float:
        return round(float((i - s) / k), 3)

    b0, b1 = max(0, idx(base.baseline[0])), idx(base.baseline[1])
    if b1 - b0 < 3 or idx(20.0) > n or not np.all(np.isfinite(y[b0 : idx(20.0)])):
        return AutoWindows(base, False, "sweep too short or not finite around the stimulus")
    bl = float(y[b0:b1].mean())
    noise = float(y[b0:b1].std(ddof=1))
    z = y - bl
    light = _smooth(z, int(round(0.1 * k)))  # ±0.1 ms
    heavy = _smooth(z, int(round(0.5 * k)))  # ±0.5 ms

    # fEPSP peak
    p_lo, p_hi = idx(2.0), idx(20.0)
    p = p_lo + int(np.argmin(heavy[p_lo:p_hi]))
    amp = float(heavy[p])
    if not amp < -max(5.0 * noise, 1e-6):
        return AutoWindows(base, False, f"no response: peak {amp:.3f} mV vs noise {noise:.3f} mV")

    # artifact end: last large deviation within 1.2 ms, plus 0.1 ms
    thr = max(8.0 * noise, 0.1, 0.1 * abs(amp))
    seg = np.abs(z[s : idx(1.2)])
    above = np.flatnonzero(seg > thr)
    art_end = (above[-1] + 1 if above.size else 0) + int(round(0.1 * k))
    art_end_ms = max(0.3, ms(s + art_end))
    a_end = idx(art_end_ms)

    # foot (10 %) and 20 % crossings walking back from the peak
    zz = light[a_end : p + 1] / amp

    def last_cross(frac: float) -> int:
        hit = np.flatnonzero((zz[:-1] <= frac) & (zz[1:] > frac))
        return a_end + int(hit[-1]) + 1 if hit.size else a_end

    foot, c20 = last_cross(0.1), last_cross(0.2)

    # fiber volley: lowest local minimum between artifact end and the foot
    landmarks = {"artifact_end": art_end_ms, "onset": ms(foot), "peak": ms(p),
                 "amplitude_mV": round(amp, 4)}
    v = light[a_end : foot + 1]
    loc = np.flatnonzero((v[1:-1] < v[:-2]) & (v[1:-1] <= v[2:])) + 1 if v.size >= 3 else []
    if len(loc):
        tv = a_end + int(loc[np.argmin(v[loc])])
        v_end = tv + int(np.argmax(light[tv : c20 + 1]))
        landmarks["volley"] = ms(tv)
        landmarks["volley_mV"] = round(float(light[tv]), 4)
    else:
        v_end = foot
    v_end = max(v_end, a_end + 1)
    landmarks["volley_end"] = ms(v_end)

    # slope window: volley end → fraction of the rise
    rise = np.flatnonzero(light[v_end : p + 1] / amp >= slope_rise_fraction)
    s_end = v_end + (int(rise[0]) if rise.size else p - v_end)
    s_end = min(max(s_end, v_end + int(round(min_slope_ms * k))), p)
    if s_end - v_end < 3:
        return AutoWindows(base, False, "rise too short for a slope window", landmarks)

    peak_end = min(p + 2 * (p - v_end), n - 1 - int(round(base.peak_smooth_ms * k)))
    w = base.replace(
        artifact=(base.artifact[0], art_end_ms),
        volley=(art_end_ms, ms(v_end)),
        slope=(ms(v_end), ms(s_end)),
        peak=(ms(v_end), ms(peak_end)),
        pop_spike=(ms(v_end), ms(peak_end)),
    )
    return AutoWindows(w, True, "", landmarks)
