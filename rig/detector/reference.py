"""Numpy reference of every measurement in :mod:`rig.detector.measurement` (tests and benchmark only).

Written independently of the numba kernel, vectorised where numpy allows, with the same
definitions (see the :mod:`rig.detector.measurement` docstring). Both must agree to 1e-9 relative.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rig.detector.measurement import (
    AP_LIKE_MV,
    ART1,
    BL0,
    BL1,
    DEFAULT_WINDOWS,
    FLOAT_FIELDS,
    HP,
    HS,
    HV,
    MEASUREMENT_DTYPE,
    NO_RESPONSE,
    NO_RISE,
    NO_VOLLEY,
    NONFINITE,
    NOT_FEPSP,
    P0,
    P1,
    POP_SPIKE_IN_SLOPE,
    PS0,
    PS1,
    S0,
    S1,
    SATURATED,
    SLOPE_AT_TROUGH,
    SLOPE_IN_VOLLEY,
    V0,
    V1,
    WINDOW_OUTSIDE,
    WMS,
    Windows,
    window_offsets,
)


def _bad(seg: np.ndarray, clip: float) -> int:
    fin = np.isfinite(seg)
    f = 0 if fin.all() else int(NONFINITE)
    if np.any(np.abs(seg[fin]) >= clip):
        f |= int(SATURATED)
    return f


def _smooth(x: np.ndarray, a: int, b: int, h: int, bl: float) -> np.ndarray:
    """Centred (2h+1)-sample mean at positions a..b-1, minus the baseline."""
    k = 2 * h + 1
    return np.convolve(x[a - h : b + h], np.ones(k), mode="valid") / k - bl


def _crossing(m: np.ndarray, amp: float, frac: float) -> float:
    """Fractional index into ``m`` of its last upward crossing of ``frac``·amp."""
    z = m / amp
    hit = np.flatnonzero((z[:-1] <= frac) & (z[1:] > frac))
    if hit.size == 0:
        return math.nan
    i = hit[-1]
    return i + (frac - z[i]) / (z[i + 1] - z[i])


def _flank(seq: np.ndarray, start: float, hth: float) -> int | None:
    """Walk ``seq`` keeping the running maximum (from ``start``); when a value drops more than
    ``hth`` below it, return the maximum's position in [start, *seq] (0 = start). None: no drop."""
    if seq.size == 0:
        return None
    before = np.maximum.accumulate(np.concatenate(([start], seq)))[:-1]
    stop = np.flatnonzero(seq < before - hth)
    if stop.size == 0:
        return None
    return int(np.argmax(np.concatenate(([start], seq[: stop[0]]))))


def measure_pulses(
    trace_mV: np.ndarray,
    pulse_indices: np.ndarray,
    fs_hz: float,
    windows: Windows = DEFAULT_WINDOWS,
    clip_mV: float | None = None,
) -> np.ndarray:
    """Same contract as :func:`rig.detector.measurement.measure_pulses` (valid fs and 1-D input assumed)."""
    x = np.asarray(trace_mV, dtype=np.float64).ravel()
    pulses = np.asarray(pulse_indices, dtype=np.int64).ravel()
    n = x.size
    fs = float(fs_hz)
    per_ms = fs / 1000.0
    clip = float(clip_mV) if clip_mV is not None and float(clip_mV) > 0 else math.inf
    o = window_offsets(windows, fs)
    hv, hp, wms, hs = int(o[HV]), int(o[HP]), int(o[WMS]), int(o[HS])
    out = np.empty(pulses.size, dtype=MEASUREMENT_DTYPE)
    for f in FLOAT_FIELDS:
        out[f] = np.nan
    out["flags"] = 0
    if pulses.size == 0:
        return out

    bflags, bl, sd = 0, math.nan, math.nan
    s0 = int(pulses[0])
    if not 0 <= s0 < n:
        bflags |= int(WINDOW_OUTSIDE)
    else:
        a, b = s0 + o[BL0], s0 + o[BL1]
        if a < 0:
            a, bflags = 0, bflags | int(WINDOW_OUTSIDE)
        if b - a < 2:
            bflags |= int(WINDOW_OUTSIDE)
        else:
            seg = x[a:b]
            bad = _bad(seg, clip)
            bflags |= bad
            if bad == 0:
                bl = float(np.mean(seg))
                sd = float(np.std(seg, ddof=1))
    out["baseline_mV"] = bl
    out["noise_mV"] = sd
    y = x - bl

    for k, s in enumerate(pulses.tolist()):
        r = out[k : k + 1]
        flags = bflags
        if not 0 <= s < n or not math.isfinite(bl):
            if not 0 <= s < n:
                flags |= int(WINDOW_OUTSIDE)
            r["flags"] = flags
            continue
        nxt = int(pulses[k + 1]) if k + 1 < pulses.size else n
        lim = nxt if s < nxt < n else n
        lo_art = s + int(o[ART1])
        if max(s + o[PS1], s + o[P1], s + o[S1], s + o[V1]) > n:
            flags |= int(WINDOW_OUTSIDE)

        # fiber volley
        pa, pb = max(s + o[V0], lo_art + hv + 1), min(s + o[V1], lim - hv - 1)
        vtrough = -1
        if pb - pa >= 1:
            bad = _bad(x[pa - hv - 1 : pb + hv + 1], clip)
            flags |= bad
            if bad == 0:
                m = _smooth(x, pa - 1, pb + 1, hv, bl)
                mid = m[1:-1]
                ok = (mid < m[:-2]) & (mid <= m[2:])
                if ok.any():
                    cand = np.flatnonzero(ok)
                    j = cand[np.argmin(mid[cand])]
                    vtrough = pa + int(j)
                    r["volley_mV"] = mid[j]
                    r["volley_latency_ms"] = (pa + j - s) / per_ms
                else:
                    flags |= int(NO_VOLLEY)
        else:
            flags |= int(NO_VOLLEY)

        # regression slope
        sa, sb = s + o[S0], min(s + o[S1], lim)
        if o[S0] < o[V1] or (vtrough >= 0 and sa <= vtrough):
            flags |= int(SLOPE_IN_VOLLEY)
        if sb - sa < 3:
            flags |= int(WINDOW_OUTSIDE)
        else:
            bad = _bad(x[sa:sb], clip)
            flags |= bad
            if bad == 0:
                t = np.arange(sb - sa) - (sb - sa - 1) / 2.0
                r["slope_mV_per_ms"] = np.dot(t, y[sa:sb]) / np.dot(t, t) * per_ms

        # peak and the slopes that depend on it
        pa, pb = max(s + o[P0], lo_art + hp), min(s + o[P1], lim - hp)
        if pb - pa < 1:
            flags |= int(WINDOW_OUTSIDE)
        else:
            bad = _bad(x[pa - hp : pb + hp], clip)
            flags |= bad
            if bad == 0:
                m = _smooth(x, pa, pb, hp, bl)
                j = int(np.argmin(m))
                amp, p = float(m[j]), pa + j
                top = float(m.max())
                r["amplitude_mV"] = amp
                r["peak_latency_ms"] = (p - s) / per_ms
                if not abs(amp) >= 3.0 * sd:
                    flags |= int(NO_RESPONSE)
                elif sb > p:
                    flags |= int(SLOPE_AT_TROUGH)
                if (top > 3.0 * sd and top > 2.0 * abs(amp)) or max(abs(amp), top) > AP_LIKE_MV:
                    flags |= int(NOT_FEPSP)
                lo = lo_art + hv
                if _bad(x[lo - hv : max(lo - hv, pa - hp)], clip):
                    lo = max(pa - hp, lo_art + hv)
                got = {}
                if amp != 0.0 and p - lo >= 1 and p + 1 + hv <= lim:
                    bad = _bad(x[lo - hv : p + 1 + hv], clip)
                    flags |= bad
                    if bad == 0:
                        ms = _smooth(x, lo, p + 1, hv, bl)
                        for f_lo, f_hi, field in (
                            (0.2, 0.8, "slope_2080_mV_per_ms"),
                            (0.1, 0.9, "slope_1090_mV_per_ms"),
                        ):
                            t_lo, t_hi = _crossing(ms, amp, f_lo), _crossing(ms, amp, f_hi)
                            if t_hi > t_lo:
                                r[field] = got[field] = (f_hi - f_lo) * amp / ((t_hi - t_lo) / per_ms)
                if len(got) < 2:
                    flags |= int(NO_RISE)
                ma = vtrough if vtrough >= 0 else max(s + o[V1], lo_art)
                last = p - wms + 1
                if last < ma:
                    flags |= int(NO_RISE)
                else:
                    bad = _bad(x[ma : p + 1], clip)
                    flags |= bad
                    if bad == 0:
                        tw = np.arange(wms) - (wms - 1) / 2.0
                        slopes = sliding_window_view(y[ma : p + 1], wms) @ tw
                        h = (wms - 1) // 2  # placed on the slope curve averaged over ±h spans (±½ width)
                        c = np.concatenate(([0.0], np.cumsum(slopes)))
                        i = np.arange(slopes.size)
                        lo_i, hi_i = np.maximum(i - h, 0), np.minimum(i + h + 1, slopes.size)
                        best = int(np.argmin((c[hi_i] - c[lo_i]) / (hi_i - lo_i)))
                        r["slope_max_mV_per_ms"] = slopes[best] / np.dot(tw, tw) * per_ms

        # population spike (tangent method)
        qa, qb = max(s + o[PS0], lo_art + hs), min(s + o[PS1], lim - hs)
        if qb - qa < 3:
            flags |= int(WINDOW_OUTSIDE)
        else:
            bad = _bad(x[qa - hs : qb + hs], clip)
            flags |= bad
            if bad == 0:
                m = _smooth(x, qa, qb, hs, bl)
                t = int(np.argmin(m))
                hth = 3.0 * sd
                left = _flank(m[:t][::-1], m[t], hth)
                right = _flank(m[t + 1 :], m[t], hth)
                ps = 0.0
                if left is not None and right is not None:
                    li, ri = t - left, t + right
                    if ri > li:
                        yl, yr, yt = y[qa + li], y[qa + ri], y[qa + t]
                        line = yl + (yr - yl) * (t - li) / (ri - li)
                        depth = yt - line
                        if depth < -3.0 * sd:
                            ps = float(depth)
                            if qa + li < sb and qa + ri >= sa:
                                flags |= int(POP_SPIKE_IN_SLOPE)
                r["pop_spike_mV"] = ps
        r["flags"] = flags
    return out
