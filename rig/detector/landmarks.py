"""Landmarks of an (averaged) evoked field response, and the windows placed from them.

Landmarks, ms after the stimulus, found on the average of a pathway's sweeps:

- ``artifact_end``: the last sample within 1.5 ms of the stimulus that deviates from the baseline by
  more than max(10 × noise, 1.5 × |trough|, 0.1 mV) or steps by more than 20 × noise, + 0.1 ms;
- ``trough``: the first local minimum of the trace smoothed ±0.5 ms that reaches 70 % of its global
  minimum (so a population-spike notch later on the decay is not taken for the trough);
  ``amplitude_mV`` is the minimum of the ±0.25 ms-smoothed trace within 0.7 ms of it;
- ``t10``, ``t20``, ``t60``, ``t80``: the last crossings of those fractions of the amplitude before
  the trough (±0.1 ms smoothing);
- ``volley``: the deepest local minimum between the artifact's end and the 20 % crossing that is
  followed by a rise of ≥ 2 × noise (its ``rebound`` is the highest point between the volley and the
  20 % crossing); ``onset`` = the last 10 % crossing;
- ``pop_spike``: a notch (a local minimum ≥ 4 × noise below the line joining its flanking maxima)
  between the 20 % crossing and 5 ms after the trough.

The slope window (the rule): from ``max(rebound + 0.1 ms, t20)`` to the 60 % crossing (at least
0.4 ms and 4 samples long, never past the 80 % crossing nor into a population spike). The volley
window is artifact end → rebound; peak and pop-spike windows start at the slope window's start.
The slope window is doubtful when the statistical SD of the average's slope in it
(noise · fs / √Sxx, relative) exceeds 4.5 %. Every window gets a confidence in [0, 1] and the
reason; ``ok`` is False (and the caller warns) when the slope window's confidence is below 0.5.
Pure numpy; never raises on array input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rig.detector.measurement import Windows

MIN_CONFIDENCE = 0.5
MAX_SLOPE_UNCERTAINTY = 0.045  # relative SD of the average's slope above which placement is doubtful


@dataclass(frozen=True)
class Placement:
    """Windows placed from landmarks; ``confidence``/``reasons`` per window name."""

    windows: Windows
    ok: bool
    message: str = ""
    landmarks_ms: dict[str, float] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "message": self.message, "landmarks_ms": dict(self.landmarks_ms),
                "confidence": dict(self.confidence), "reasons": dict(self.reasons),
                "windows": self.windows.to_dict()}


def smooth(y: np.ndarray, half: int) -> np.ndarray:
    """Centred boxcar of 2·half + 1 samples (shrinking at the edges)."""
    if half <= 0 or y.size == 0:
        return y.copy()
    c = np.concatenate(([0.0], np.cumsum(y)))
    i = np.arange(y.size)
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, y.size)
    return (c[hi] - c[lo]) / (hi - lo)


def noise_of(y: np.ndarray) -> float:
    """Robust white-noise RMS from sample-to-sample steps (MAD of the differences / √2)."""
    d = np.diff(y)
    if d.size < 4:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def _last_cross(frac_trace: np.ndarray, lo: int, hi: int, frac: float) -> int | None:
    """Index of the last i in [lo, hi) with trace[i] <= frac < trace[i+1] (trace normalised to the trough)."""
    z = frac_trace[lo : hi + 1]
    hit = np.flatnonzero((z[:-1] <= frac) & (z[1:] > frac))
    return lo + int(hit[-1]) + 1 if hit.size else None


def _flank(y: np.ndarray, i: int, step: int, drop: float) -> int | None:
    """Walking from the minimum ``i`` in direction ``step``: the running maximum's index where the
    trace first falls ``drop`` below it (None when the walk reaches the edge)."""
    best, top = i, y[i]
    j = i + step
    while 0 <= j < y.size:
        if y[j] > top:
            best, top = j, y[j]
        elif y[j] < top - drop:
            return best
        j += step
    return None


def _fail(base: Windows, message: str, lm: dict, conf: float = 0.0) -> Placement:
    return Placement(base, False, message, lm, {"slope": conf}, {"slope": message})


def place_windows(trace_mV: np.ndarray, stim_index: int, fs_hz: float, base: Windows | None = None,
                  rise_fraction: float = 0.6, from_onset: bool = False) -> Placement:
    """Find the landmarks on ``trace_mV`` (an average) and place the windows; ``base`` supplies
    what is not placed (smoothing widths) and the fallback when nothing can be placed. The slope
    window ends at ``rise_fraction`` of the rise and starts after the rebound at the 20 % point, or
    (``from_onset``, online) at the fEPSP onset (the 10 % point after the rebound)."""
    base = base or Windows()
    y = np.asarray(trace_mV, dtype=np.float64).ravel()
    k = float(fs_hz) / 1000.0
    s = int(stim_index)
    n = y.size
    if not (k > 0 and math.isfinite(k)) or not 0 < s < n:
        return _fail(base, "stimulus outside the sweep", {})

    def idx(ms: float) -> int:
        return s + int(round(ms * k))

    def ms(i: float) -> float:
        return round(float((i - s) / k), 3)

    end = min(n, idx(30.0))
    if end - s < int(3.0 * k) or not np.all(np.isfinite(y[:end])):
        return _fail(base, "sweep too short (< 3 ms after the stimulus) or not finite", {})
    # baseline: what there is before the stimulus (up to 5 ms), leaving one sample for an early edge
    pre = s if s < 4 else s - 1
    b0 = max(0, pre - int(round(5.0 * k)))
    bl = float(np.mean(y[b0:pre])) if pre > b0 else float(y[0])
    bl_ms = (max(-5.0, -s / k), -((s - pre) / k) if pre < s else 0.0)
    z = y - bl
    noise = max(noise_of(y[idx(1.5):end]) if end - idx(1.5) > 8 else noise_of(y), 1e-6)
    lm: dict[str, float] = {"baseline_ms": round(-bl_ms[0], 3), "noise_mV": round(noise, 5)}

    # rough trough for the artifact threshold
    rough = smooth(z[idx(1.5):end], int(round(0.5 * k)))
    if rough.size == 0:
        return _fail(base, "sweep too short after the stimulus", lm)
    amp0 = float(rough.min())
    thr = max(10.0 * noise, 1.5 * abs(amp0), 0.1)
    a_hi = min(idx(1.5), end - 1)
    seg = z[s:a_hi]
    step = np.abs(np.diff(z[s : a_hi + 1]))
    early = np.arange(seg.size) < int(round(0.5 * k))  # a small fast artifact: its steps
    big = np.flatnonzero((np.abs(seg) > thr) | (early & (step > max(20.0 * noise, 0.02))))
    a_end = s + (int(big[-1]) + 1 if big.size else 0) + int(round(0.1 * k))
    a_end = max(a_end, s + max(1, int(round(0.2 * k))))
    lm["artifact_end"] = ms(a_end)
    zb = z.copy()
    zb[s:a_end] = z[a_end]  # blank the artifact before smoothing
    light = smooth(zb, int(round(0.1 * k)))
    mid = smooth(zb, int(round(0.25 * k)))
    heavy = smooth(zb, int(round(0.5 * k)))

    # trough: first local minimum of the heavy trace reaching 70 % of the global minimum
    lo = a_end + int(round(0.3 * k))
    h = heavy[lo:end]
    if h.size < 3:
        return _fail(base, "no samples after the artifact", lm)
    g = float(h.min())
    pos = float(h.max())
    if not g < -max(6.0 * noise, 1e-4):
        why = "positive response (wrong polarity?)" if pos > max(6.0 * noise, 1e-4) else "no response"
        return _fail(base, f"{why}: trough {g:.3f} mV vs noise {noise:.3f} mV", lm)
    locmin = np.flatnonzero((h[1:-1] < h[:-2]) & (h[1:-1] <= h[2:])) + 1
    cand = [int(i) for i in locmin if h[i] <= 0.7 * g]
    tr_h = lo + (cand[0] if cand else int(np.argmin(h)))
    w0, w1 = max(lo, tr_h - int(round(0.7 * k))), min(end, tr_h + int(round(0.7 * k)) + 1)
    tr = w0 + int(np.argmin(mid[w0:w1]))
    amp = float(mid[tr])
    lm.update(trough=ms(tr), amplitude_mV=round(amp, 4))
    snr = abs(amp) / noise

    frac = light / amp
    c10 = _last_cross(frac, a_end, tr, 0.1)
    c20 = _last_cross(frac, a_end, tr, 0.2)
    c60 = _last_cross(frac, a_end, tr, rise_fraction)
    c80 = _last_cross(frac, a_end, tr, 0.8)
    if c20 is None or c60 is None or c80 is None:
        return _fail(base, "the rise to the trough starts inside the artifact", lm, 0.1)
    c10 = c10 if c10 is not None else a_end
    lm.update(t20=ms(c20), t60=ms(c60), t80=ms(c80))

    # fiber volley and its rebound, between the artifact and the 20 % crossing
    conf_v, why_v = 1.0, "volley and its end found"
    v = light[a_end : c20 + 1]
    vol = None
    if v.size >= 3:
        mins = np.flatnonzero((v[1:-1] < v[:-2]) & (v[1:-1] <= v[2:])) + 1
        best = None
        for i in mins:
            rise = float(v[i:].max() - v[i])
            if v[i] < -2.0 * noise / math.sqrt(3.0) and rise >= 2.0 * noise and (best is None or v[i] < v[best]):
                best = int(i)
        if best is not None:
            vol = a_end + best
    if vol is not None:
        reb = vol + int(np.argmax(light[vol : c20 + 1]))
        lm.update(volley=ms(vol), volley_mV=round(float(light[vol]), 4), rebound=ms(reb),
                  rebound_mV=round(float(light[reb]), 4))
        onset = _last_cross(frac, reb, tr, 0.1) or reb
    else:
        reb = a_end
        onset = c10
        conf_v, why_v = 0.6, "no fiber volley found: the window starts at the fEPSP onset"
    lm["onset"] = ms(onset)

    # population spike notch on the rise or the decay
    pop = None
    q0, q1 = c20, min(end - 1, tr + int(round(5.0 * k)))
    ql = smooth(zb, int(round(0.15 * k)))[q0 : q1 + 1]
    if ql.size >= 5:
        mins = np.flatnonzero((ql[1:-1] < ql[:-2]) & (ql[1:-1] <= ql[2:])) + 1
        for i in mins:
            il, ir = _flank(ql, int(i), -1, 3.0 * noise), _flank(ql, int(i), 1, 3.0 * noise)
            if il is None or ir is None:
                continue
            line = ql[il] + (ql[ir] - ql[il]) * (i - il) / (ir - il)
            if ql[i] - line < -4.0 * noise:
                pop = (q0 + il, q0 + int(i), q0 + ir)
                break
    if pop is not None:
        lm.update(pop_spike=ms(pop[1]), pop_spike_start=ms(pop[0]))

    # the slope window
    conf, why = min(1.0, snr / 15.0) * conf_v, why_v
    s0 = max(reb + int(round(0.1 * k)), onset if from_onset else c20)
    s1 = c60
    min_len = max(4, int(round(0.4 * k)))
    if s1 - s0 < min_len:
        s1 = min(s0 + min_len, c80)
    if pop is not None and pop[0] < s1:
        s1 = pop[0]
        conf, why = conf * 0.6, why + "; a population spike cuts the rise"
    if s1 - s0 < min_len:
        s1 = max(s1, s0 + 3)
        conf, why = min(conf, 0.3), "the rise after the volley is too short for a slope window"
    if s1 >= tr:
        return _fail(base, "the slope window would reach the trough", lm, 0.1)
    # statistical uncertainty of the regression slope on this average: σ·fs / √Sxx
    cnt = s1 - s0
    sxx = cnt * (cnt * cnt - 1) / 12.0
    tt = np.arange(cnt) - (cnt - 1) / 2.0
    slope_avg = float(np.dot(tt, z[s0:s1]) / sxx * k)
    rel = noise * k / math.sqrt(sxx) / max(abs(slope_avg), 1e-12)
    lm["slope_mV_per_ms"] = round(slope_avg, 4)
    lm["slope_sd_percent"] = round(100.0 * min(rel, 9.99), 1)
    placed = conf if slope_avg < 0 else 0.0  # the placement alone, before the statistical doubt
    if slope_avg >= 0:
        conf, why = 0.0, why + "; the slope in the window is not negative"
    elif rel > MAX_SLOPE_UNCERTAINTY:
        conf, why = min(conf, 0.4), why + f"; slope uncertain by ±{rel:.0%} on the average (noise, short window)"
    peak_end = min(max(tr + 2 * (tr - s0), tr + int(round(3.0 * k))), n - 1 - int(round(base.peak_smooth_ms * k)))
    confidence = {"baseline": round(min(1.0, (s - b0) / (1.0 * k)), 2), "artifact": 1.0,
                  "volley": round(conf_v, 2), "slope": round(conf, 2), "peak": round(min(1.0, snr / 10.0), 2),
                  "pop_spike": round(min(1.0, snr / 10.0), 2), "slope_placement": round(placed, 2)}
    reasons = {"baseline": f"{(s - b0) / k:.2f} ms before the stimulus",
               "artifact": "last large deviation or step + 0.1 ms",
               "volley": why_v, "slope": f"rebound/{'onset' if from_onset else '20 %'} → {rise_fraction:.0%} "
                                         f"of the rise; {why}",
               "peak": "slope start → trough + 2 × (trough − slope start)", "pop_spike": "as the peak window"}
    try:
        w = base.replace(
            baseline=bl_ms if bl_ms[1] > bl_ms[0] else (-(s / k), 0.0),
            artifact=(0.0, ms(a_end)),
            volley=(ms(a_end), max(ms(reb), ms(a_end) + 1.0 / k)),
            slope=(ms(s0), ms(s1)),
            peak=(ms(s0), ms(max(peak_end, tr + 2))),
            pop_spike=(ms(s0), ms(max(peak_end, tr + 2))),
        )
    except ValueError as exc:
        return _fail(base, f"cannot place windows ({exc})", lm)
    ok = conf >= MIN_CONFIDENCE
    return Placement(w, ok, "" if ok else f"slope window uncertain: {why}", lm, confidence, reasons)
