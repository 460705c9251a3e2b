"""The numba kernel of the fEPSP detector: flag bits, the sample-offset layout of the windows,
and the jitted measurement functions (one compiled signature each: float64 C arrays, int64 indices).

:mod:`rig.detector.measurement` is the public API (windows, record dtype, :func:`rig.detector.measurement.measure`);
:mod:`rig.detector.reference` is the numpy reference the kernel is tested against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from rig.detector.codes import (  # noqa: F401 - the kernel's flags and offset layout
    AP_LIKE_MV,
    ART0,
    ART1,
    BL0,
    BL1,
    HP,
    HS,
    HV,
    N_OFFSETS,
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
)

# -- jitted kernel -------------------------------------------------------------------------------
# Every function below is compiled for exactly one signature: float64 C arrays, int64 indices.


@njit(cache=True, nogil=True)
def _bad(x, a, b, clip):  # pragma: no cover - jitted
    """Flags for samples [a, b): NONFINITE and/or SATURATED (|x| >= clip)."""
    f = np.uint32(0)
    for i in range(a, b):
        v = x[i]
        if not abs(v) < clip:  # rare path: NaN, ±inf or clipped
            if np.isfinite(v):
                f |= SATURATED
            else:
                f |= NONFINITE
    return f


@njit(cache=True, nogil=True)
def _smooth_into(x, a, b, h, bl, m):  # pragma: no cover - jitted
    """m[j] = mean(x[i-h : i+h+1]) - bl for i = a + j, j < b - a (running sum)."""
    k = 2 * h + 1
    acc = 0.0
    for i in range(a - h, a + h + 1):
        acc += x[i]
    m[0] = acc / k - bl
    for j in range(1, b - a):
        i = a + j
        acc += x[i + h] - x[i - h - 1]
        m[j] = acc / k - bl


@njit(cache=True, nogil=True)
def _crossing(m, last, amp, frac):  # pragma: no cover - jitted
    """Fractional index into ``m`` of the last upward crossing of ``frac``·amp at or before
    index ``last - 1`` (z = m / amp goes from <= frac at i to > frac at i + 1); NaN if none."""
    level = frac * amp
    if amp < 0.0:
        for i in range(last - 1, -1, -1):
            if m[i] >= level and m[i + 1] < level:
                return i + (level - m[i]) / (m[i + 1] - m[i])
    else:
        for i in range(last - 1, -1, -1):
            if m[i] <= level and m[i + 1] > level:
                return i + (level - m[i]) / (m[i + 1] - m[i])
    return np.nan


@njit(cache=True, nogil=True)
def _rise_slopes(m, last, amp, per_ms):  # pragma: no cover - jitted
    """(20–80 %, 10–90 %) slopes from the crossings before ``m[last]`` (the peak).

    The last crossing of a higher fraction is never before that of a lower one, so each walk
    starts where the previous (higher) one stopped: one pass back from the peak."""
    t90 = _crossing(m, last, amp, 0.9)
    start = last if np.isnan(t90) else int(t90) + 1
    t80 = _crossing(m, start, amp, 0.8)
    start = last if np.isnan(t80) else int(t80) + 1
    t20 = _crossing(m, start, amp, 0.2)
    start = last if np.isnan(t20) else int(t20) + 1
    t10 = _crossing(m, start, amp, 0.1)
    s2080 = np.nan
    s1090 = np.nan
    if t80 > t20:
        s2080 = 0.6 * amp / ((t80 - t20) / per_ms)
    if t90 > t10:
        s1090 = 0.8 * amp / ((t90 - t10) / per_ms)
    return s2080, s1090


@njit(cache=True, nogil=True)
def _max_slope(x, a, last, w, bl):  # pragma: no cover - jitted
    """Most negative least-squares numerator Σ (j − j̄)·y over windows [q, q + w), a <= q <= last
    (running sums; divide by Sxx for the slope per sample)."""
    tm = (w - 1) / 2.0
    s0 = 0.0
    s1 = 0.0
    for j in range(w):
        y = x[a + j] - bl
        s0 += y
        s1 += j * y
    best = s1 - tm * s0
    for q in range(a + 1, last + 1):
        y_out = x[q - 1] - bl
        y_in = x[q + w - 1] - bl
        s0 += y_in - y_out
        s1 = s1 + w * y_in - s0
        num = s1 - tm * s0
        if num < best:
            best = num
    return best


@njit(cache=True, nogil=True)
def _steepest_at(x, a, last, w, bl, m, h):  # pragma: no cover - jitted
    """Regression numerator of the span [q, q + w), a <= q <= last, at the q where the numerators
    averaged over q ± h (fewer at the ends) are most negative: placed on the smoothed slope curve,
    noise hardly biases the value (a local minimum among noisy fits would). ``m``: scratch."""
    tm = (w - 1) / 2.0
    s0 = 0.0
    s1 = 0.0
    for j in range(w):
        y = x[a + j] - bl
        s0 += y
        s1 += j * y
    m[0] = s1 - tm * s0
    for q in range(a + 1, last + 1):
        y_in = x[q + w - 1] - bl
        s0 += y_in - (x[q - 1] - bl)
        s1 = s1 + w * y_in - s0
        m[q - a] = s1 - tm * s0
    n = last - a + 1
    best = 0
    best_v = 0.0
    for i in range(n):
        lo = max(0, i - h)
        hi = min(n, i + h + 1)
        acc = 0.0
        for j in range(lo, hi):
            acc += m[j]
        v = acc / (hi - lo)
        if i == 0 or v < best_v:
            best_v = v
            best = i
    return m[best]


@njit(cache=True, nogil=True)
def _measure_kernel(x, pulses, offs, fs, clip, out):  # pragma: no cover - jitted
    n = x.shape[0]
    npulse = pulses.shape[0]
    nan = np.nan
    per_ms = fs / 1000.0
    hv = offs[HV]
    hp = offs[HP]
    wms = offs[WMS]
    hs = offs[HS]
    m = np.empty(n + 2)  # smoothed-trace scratch

    # pre-train baseline (from the first pulse)
    bflags = np.uint32(0)
    bl = nan
    sd = nan
    s_first = pulses[0]
    if s_first < 0 or s_first >= n:
        bflags |= WINDOW_OUTSIDE
    else:
        a = s_first + offs[BL0]
        b = s_first + offs[BL1]
        if a < 0:
            a = 0
            bflags |= WINDOW_OUTSIDE
        if b - a < 2:
            bflags |= WINDOW_OUTSIDE
        else:
            bad = _bad(x, a, b, clip)
            bflags |= bad
            if bad == 0:
                acc = 0.0
                for i in range(a, b):
                    acc += x[i]
                bl = acc / (b - a)
                acc = 0.0
                for i in range(a, b):
                    d = x[i] - bl
                    acc += d * d
                sd = np.sqrt(acc / (b - a - 1))

    for k in range(npulse):
        r = out[k]
        r.baseline_mV = bl
        r.noise_mV = sd
        r.volley_mV = nan
        r.volley_latency_ms = nan
        r.slope_mV_per_ms = nan
        r.slope_max_mV_per_ms = nan
        r.slope_2080_mV_per_ms = nan
        r.slope_1090_mV_per_ms = nan
        r.amplitude_mV = nan
        r.peak_latency_ms = nan
        r.pop_spike_mV = nan
        flags = bflags
        s = pulses[k]
        if s < 0 or s >= n or not np.isfinite(bl):
            if s < 0 or s >= n:
                flags |= WINDOW_OUTSIDE
            r.flags = flags
            continue
        lim = n
        if k + 1 < npulse and pulses[k + 1] > s and pulses[k + 1] < n:
            lim = pulses[k + 1]
        lo_art = s + offs[ART1]
        if s + offs[PS1] > n or s + offs[P1] > n or s + offs[S1] > n or s + offs[V1] > n:
            flags |= WINDOW_OUTSIDE

        # fiber volley: lowest local minimum of the smoothed trace in the window
        pa = max(s + offs[V0], lo_art + hv + 1)
        pb = min(s + offs[V1], lim - hv - 1)
        vtrough = -1
        if pb - pa >= 1:
            bad = _bad(x, pa - hv - 1, pb + hv + 1, clip)
            flags |= bad
            if bad == 0:
                _smooth_into(x, pa - 1, pb + 1, hv, bl, m)
                best = -1
                for j in range(1, pb - pa + 1):
                    if m[j] < m[j - 1] and m[j] <= m[j + 1]:
                        if best < 0 or m[j] < m[best]:
                            best = j
                if best >= 0:
                    vtrough = pa - 1 + best
                    r.volley_mV = m[best]
                    r.volley_latency_ms = (pa - 1 + best - s) / per_ms
                else:
                    flags |= NO_VOLLEY
        else:
            flags |= NO_VOLLEY

        # regression slope over the slope window
        sa = s + offs[S0]
        sb = min(s + offs[S1], lim)
        if offs[S0] < offs[V1] or (vtrough >= 0 and sa <= vtrough):
            flags |= SLOPE_IN_VOLLEY
        if sb - sa < 3:
            flags |= WINDOW_OUTSIDE
        else:
            bad = _bad(x, sa, sb, clip)
            flags |= bad
            if bad == 0:
                cnt = sb - sa
                tm = (cnt - 1) / 2.0
                acc = 0.0
                for j in range(cnt):
                    acc += (j - tm) * (x[sa + j] - bl)
                sxx = cnt * (cnt * cnt - 1) / 12.0
                r.slope_mV_per_ms = acc / sxx * per_ms

        # peak (smoothed minimum) and everything that depends on it
        pa = max(s + offs[P0], lo_art + hp)
        pb = min(s + offs[P1], lim - hp)
        amp = nan
        if pb - pa < 1:
            flags |= WINDOW_OUTSIDE
        else:
            bad = _bad(x, pa - hp, pb + hp, clip)
            flags |= bad
            if bad == 0:
                _smooth_into(x, pa, pb, hp, bl, m)
                best = 0
                top = m[0]
                for j in range(1, pb - pa):
                    if m[j] < m[best]:
                        best = j
                    if m[j] > top:
                        top = m[j]
                amp = m[best]
                p = pa + best
                r.amplitude_mV = amp
                r.peak_latency_ms = (p - s) / per_ms
                if not (abs(amp) >= 3.0 * sd):
                    flags |= NO_RESPONSE
                elif sb > p:
                    flags |= SLOPE_AT_TROUGH
                if (top > 3.0 * sd and top > 2.0 * abs(amp)) or abs(amp) > AP_LIKE_MV or top > AP_LIKE_MV:
                    flags |= NOT_FEPSP
                # 20-80 and 10-90 % slopes on the lightly smoothed trace, back from the peak to the
                # artifact's end (to the peak window's start when samples before it are clipped)
                lo = lo_art + hv
                if _bad(x, lo - hv, max(lo - hv, pa - hp), clip) != 0:
                    lo = max(pa - hp, lo_art + hv)
                s2080 = nan
                s1090 = nan
                if amp != 0.0 and p - lo >= 1 and p + 1 + hv <= lim:
                    bad = _bad(x, lo - hv, p + 1 + hv, clip)
                    flags |= bad
                    if bad == 0:
                        _smooth_into(x, lo, p + 1, hv, bl, m)
                        s2080, s1090 = _rise_slopes(m, p - lo, amp, per_ms)
                        r.slope_2080_mV_per_ms = s2080
                        r.slope_1090_mV_per_ms = s1090
                if np.isnan(s2080) or np.isnan(s1090):
                    flags |= NO_RISE
                # steepest regression slope of a wms-sample span between the volley and the peak,
                # placed on the smoothed slope curve (no selection bias from noise)
                ma = vtrough if vtrough >= 0 else max(s + offs[V1], lo_art)
                last = p - wms + 1
                if last < ma:
                    flags |= NO_RISE
                else:
                    bad = _bad(x, ma, p + 1, clip)
                    flags |= bad
                    if bad == 0:
                        sxx = wms * (wms * wms - 1) / 12.0
                        num = _steepest_at(x, ma, last, wms, bl, m, (wms - 1) // 2)
                        r.slope_max_mV_per_ms = num / sxx * per_ms

        # population spike, tangent method on the lightly smoothed trace
        qa = max(s + offs[PS0], lo_art + hs)
        qb = min(s + offs[PS1], lim - hs)
        if qb - qa < 3:
            flags |= WINDOW_OUTSIDE
        else:
            bad = _bad(x, qa - hs, qb + hs, clip)
            flags |= bad
            if bad == 0:
                nq = qb - qa
                _smooth_into(x, qa, qb, hs, bl, m)
                t = 0
                for j in range(1, nq):
                    if m[j] < m[t]:
                        t = j
                hth = 3.0 * sd
                li = -1
                rm = m[t]
                cand = t
                for j in range(t - 1, -1, -1):
                    if m[j] > rm:
                        rm = m[j]
                        cand = j
                    elif m[j] < rm - hth:
                        li = cand
                        break
                ri = -1
                rm = m[t]
                cand = t
                for j in range(t + 1, nq):
                    if m[j] > rm:
                        rm = m[j]
                        cand = j
                    elif m[j] < rm - hth:
                        ri = cand
                        break
                ps = 0.0
                if li >= 0 and ri >= 0 and ri > li:
                    # positions from the smoothed trace, values from the raw one (no smoothing bias)
                    yl = x[qa + li] - bl
                    yr = x[qa + ri] - bl
                    line = yl + (yr - yl) * (t - li) / (ri - li)
                    depth = (x[qa + t] - bl) - line
                    if depth < -3.0 * sd:
                        ps = depth
                        if qa + li < sb and qa + ri >= sa:
                            flags |= POP_SPIKE_IN_SLOPE
                r.pop_spike_mV = ps
        r.flags = flags


@njit(cache=True, nogil=True)
def _measure_one(x, stim, offs, fs, clip, out):  # pragma: no cover - jitted
    pulses = np.empty(1, dtype=np.int64)
    pulses[0] = stim
    _measure_kernel(x, pulses, offs, fs, clip, out)
