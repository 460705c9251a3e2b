"""Online fEPSP measurement (numba): every measurement of one evoked response in microseconds.

Definitions follow WinLTP / Stimfit / Clampfit (``docs/analysis.md``). Windows are in ms relative
to the pulse onset (:class:`Windows`); they are converted once per (windows, sample rate) to sample
offsets. The trace is in mV at the electrode; the fEPSP is negative-going.

One record of :data:`MEASUREMENT_DTYPE` per measured pulse. Field names are part of the file
format (storage writes the records as-is); keep them stable:

=========================  ======  ============================================================
field                      dtype   meaning
=========================  ======  ============================================================
``baseline_mV``            f8      mean of the baseline window (before the *first* pulse)
``noise_mV``               f8      SD (ddof=1) of the baseline window
``volley_mV``              f8      fiber volley: lowest local minimum of the trace smoothed over
                                   ``volley_smooth_ms`` inside the volley window, minus baseline
``volley_latency_ms``      f8      time of that minimum after the pulse onset
``slope_mV_per_ms``        f8      least-squares slope over the slope window (regression method)
``slope_max_mV_per_ms``    f8      steepest (most negative) least-squares slope of a sliding
                                   window of ``max_slope_width_ms`` (step one sample) between the
                                   volley's trough (the volley window's end if none) and the peak
``slope_2080_mV_per_ms``   f8      0.6·amplitude / (t80 − t20); t20, t80 = the last crossings of
                                   20 % and 80 % of the amplitude before the peak, on the trace
                                   smoothed over ``volley_smooth_ms`` (linear interpolation)
``slope_1090_mV_per_ms``   f8      the same with 10 % and 90 %
``amplitude_mV``           f8      fEPSP amplitude: minimum of the trace smoothed over
                                   ``peak_smooth_ms`` inside the peak window, minus baseline
``peak_latency_ms``        f8      time of that minimum after the pulse onset
``pop_spike_mV``           f8      population spike by the tangent method: trough minus the line
                                   joining the positive peaks on either side (≤ 0). Trough and
                                   peaks are located on the trace smoothed over
                                   ``pop_spike_smooth_ms`` (a flank peak is where the walk away
                                   from the trough first drops 3 × noise below its running
                                   maximum); the depth uses the raw samples there. 0.0 when no
                                   spike deeper than 3 × noise is found
``flags``                  u4      OR of the flag bits below
=========================  ======  ============================================================

A measurement that cannot be made is NaN and the reason is in ``flags``: a window whose samples
include a clipped sample (``|x| >= clip_mV``) or a non-finite one is never measured. Inside a
train every pulse is measured against the pre-train baseline, and each pulse's windows end at the
next pulse's onset. :func:`measure` / :func:`measure_pulses` never raise on array input.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from dataclasses import replace as _dc_replace

import numpy as np
from numba import njit

# -- flag bits ---------------------------------------------------------------------------------
NO_RESPONSE = np.uint32(1)  # |amplitude| < 3 × baseline noise
SATURATED = np.uint32(2)  # a measurement window holds a clipped sample (that value is NaN)
WINDOW_OUTSIDE = np.uint32(4)  # a window (or the pulse) lies outside the sweep
POP_SPIKE_IN_SLOPE = np.uint32(8)  # a population spike overlaps the slope window
NONFINITE = np.uint32(16)  # a measurement window holds NaN/inf (that value is NaN)
NO_VOLLEY = np.uint32(32)  # no local minimum inside the volley window

FLAG_NAMES = {
    int(NO_RESPONSE): "no_response",
    int(SATURATED): "saturated",
    int(WINDOW_OUTSIDE): "window_outside",
    int(POP_SPIKE_IN_SLOPE): "pop_spike_in_slope",
    int(NONFINITE): "nonfinite",
    int(NO_VOLLEY): "no_volley",
}

FLOAT_FIELDS = (
    "baseline_mV",
    "noise_mV",
    "volley_mV",
    "volley_latency_ms",
    "slope_mV_per_ms",
    "slope_max_mV_per_ms",
    "slope_2080_mV_per_ms",
    "slope_1090_mV_per_ms",
    "amplitude_mV",
    "peak_latency_ms",
    "pop_spike_mV",
)
MEASUREMENT_DTYPE = np.dtype([(f, "f8") for f in FLOAT_FIELDS] + [("flags", "u4")])

#: ``--method`` name → slope field
SLOPE_FIELD = {
    "regression": "slope_mV_per_ms",
    "max": "slope_max_mV_per_ms",
    "20-80": "slope_2080_mV_per_ms",
    "10-90": "slope_1090_mV_per_ms",
}


def flag_names(flags: int) -> list[str]:
    """Names of the bits set in ``flags``."""
    return [name for bit, name in FLAG_NAMES.items() if int(flags) & bit]


# -- windows -----------------------------------------------------------------------------------
WINDOW_NAMES = ("baseline", "artifact", "volley", "slope", "peak", "pop_spike")
PARAM_NAMES = ("max_slope_width_ms", "volley_smooth_ms", "peak_smooth_ms", "pop_spike_smooth_ms")


@dataclass(frozen=True)
class Windows:
    """Analysis windows, (start, end) in ms relative to the pulse onset, and smoothing widths.

    Defaults suit CA1 fields at 10–20 kHz (volley 1.7–2.5 ms, trough 5.8–6.6 ms). Samples inside
    ``artifact`` are blanked: no post-stimulus window (nor its smoothing) reaches into it.
    """

    baseline: tuple[float, float] = (-5.0, -0.5)
    artifact: tuple[float, float] = (0.0, 0.8)
    volley: tuple[float, float] = (0.8, 2.8)
    slope: tuple[float, float] = (3.0, 4.5)
    peak: tuple[float, float] = (2.5, 15.0)
    pop_spike: tuple[float, float] = (3.0, 12.0)
    max_slope_width_ms: float = 1.0
    volley_smooth_ms: float = 0.2
    peak_smooth_ms: float = 1.0
    pop_spike_smooth_ms: float = 0.3

    def __post_init__(self) -> None:
        for name in WINDOW_NAMES:
            a, b = (float(v) for v in getattr(self, name))
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"window {name}: need finite start < end, got ({a}, {b})")
            object.__setattr__(self, name, (a, b))
        if self.baseline[0] >= self.artifact[0]:
            raise ValueError(f"window baseline: must start before the artifact ({self.artifact[0]} ms)")
        for name in ("volley", "slope", "peak", "pop_spike"):
            if getattr(self, name)[1] <= self.artifact[1]:
                raise ValueError(f"window {name}: must end after the artifact ({self.artifact[1]} ms)")
        for name in PARAM_NAMES:
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name}: need a finite value >= 0, got {v}")
            object.__setattr__(self, name, v)

    def to_dict(self) -> dict:
        """Plain dict (windows as [start, end] lists) for JSON / HDF5 attributes."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Windows:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys keep defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown window(s): {', '.join(sorted(unknown))}")
        return cls(**{k: (tuple(v) if k in WINDOW_NAMES else v) for k, v in d.items()})

    def replace(self, **changes) -> Windows:
        """A copy with some windows/parameters replaced, e.g. ``w.replace(slope=(2.8, 4.0))``."""
        return _dc_replace(self, **changes)

    def override(self, spec: str) -> Windows:
        """Apply one ``NAME=START:END`` (window, ms) or ``NAME=VALUE`` (parameter) override."""
        name, sep, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"{spec!r}: expected NAME=START:END")
        if name in WINDOW_NAMES:
            start, colon, end = value.partition(":")
            if not colon:
                raise ValueError(f"{spec!r}: expected NAME=START:END (ms)")
            try:
                pair = (float(start), float(end))
            except ValueError:
                raise ValueError(f"{spec!r}: START and END must be numbers (ms)") from None
            return self.replace(**{name: pair})
        if name in PARAM_NAMES:
            try:
                return self.replace(**{name: float(value)})
            except ValueError:
                raise ValueError(f"{spec!r}: value must be a number") from None
        known = ", ".join(WINDOW_NAMES + PARAM_NAMES)
        raise ValueError(f"{spec!r}: unknown window {name!r} (known: {known})")


# offsets array layout (samples relative to the pulse onset)
BL0, BL1, ART0, ART1, V0, V1, S0, S1, P0, P1, PS0, PS1, HV, HP, WMS, HS = range(16)
N_OFFSETS = 16


def _offsets_cached(windows: Windows, fs_hz: float) -> np.ndarray:
    """:func:`window_offsets`, memoised on the (immutable) Windows instance."""
    cache = windows.__dict__.get("_offsets_by_fs")
    if cache is None:
        cache = {}
        object.__setattr__(windows, "_offsets_by_fs", cache)
    o = cache.get(fs_hz)
    if o is None:
        o = window_offsets(windows, fs_hz)
        o.flags.writeable = False
        if len(cache) < 16:
            cache[fs_hz] = o
    return o


def window_offsets(windows: Windows, fs_hz: float) -> np.ndarray:
    """Windows → int64 sample offsets from the pulse onset (layout ``BL0 … WMS``).

    Each bound is ``round(ms · fs / 1000)``; windows are [start, end). Post-stimulus windows start
    no earlier than the artifact's end; the baseline ends no later than the artifact's start.
    """
    k = fs_hz / 1000.0

    def s(ms: float) -> int:
        return int(round(ms * k))

    art0, art1 = s(windows.artifact[0]), s(windows.artifact[1])
    o = np.zeros(N_OFFSETS, dtype=np.int64)
    o[BL0], o[BL1] = s(windows.baseline[0]), min(s(windows.baseline[1]), art0)
    o[ART0], o[ART1] = art0, art1
    for lo, name in ((V0, "volley"), (S0, "slope"), (P0, "peak"), (PS0, "pop_spike")):
        a, b = getattr(windows, name)
        o[lo], o[lo + 1] = max(s(a), art1), max(s(b), art1)
    o[HV] = int(round(windows.volley_smooth_ms * k / 2.0))
    o[HP] = int(round(windows.peak_smooth_ms * k / 2.0))
    o[WMS] = max(2, s(windows.max_slope_width_ms) + 1)  # samples spanning the width
    o[HS] = int(round(windows.pop_spike_smooth_ms * k / 2.0))
    return o


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
        if sb - sa >= 3:
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
        if pb - pa >= 1:
            bad = _bad(x, pa - hp, pb + hp, clip)
            flags |= bad
            if bad == 0:
                _smooth_into(x, pa, pb, hp, bl, m)
                best = 0
                for j in range(1, pb - pa):
                    if m[j] < m[best]:
                        best = j
                amp = m[best]
                p = pa + best
                r.amplitude_mV = amp
                r.peak_latency_ms = (p - s) / per_ms
                if not (abs(amp) >= 3.0 * sd):
                    flags |= NO_RESPONSE
                # 20-80 and 10-90 % slopes on the lightly smoothed trace, back from the peak
                lo = max(pa - hp, lo_art + hv)
                if amp != 0.0 and p - lo >= 1 and p + 1 + hv <= lim:
                    bad = _bad(x, lo - hv, p + 1 + hv, clip)
                    flags |= bad
                    if bad == 0:
                        _smooth_into(x, lo, p + 1, hv, bl, m)
                        s2080, s1090 = _rise_slopes(m, p - lo, amp, per_ms)
                        r.slope_2080_mV_per_ms = s2080
                        r.slope_1090_mV_per_ms = s1090
                # steepest sliding-window regression slope between volley end and peak
                ma = vtrough if vtrough >= 0 else max(s + offs[V1], lo_art)
                last = p - wms + 1
                if last >= ma:
                    bad = _bad(x, ma, p + 1, clip)
                    flags |= bad
                    if bad == 0:
                        sxx = wms * (wms * wms - 1) / 12.0
                        r.slope_max_mV_per_ms = _max_slope(x, ma, last, wms, bl) / sxx * per_ms

        # population spike, tangent method on the lightly smoothed trace
        qa = max(s + offs[PS0], lo_art + hs)
        qb = min(s + offs[PS1], lim - hs)
        if qb - qa >= 3:
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


# -- public API ----------------------------------------------------------------------------------
DEFAULT_WINDOWS = Windows()


def _invalid(n: int, flag: np.uint32) -> np.ndarray:
    out = np.empty(n, dtype=MEASUREMENT_DTYPE)
    for f in FLOAT_FIELDS:
        out[f] = np.nan
    out["flags"] = flag
    return out


def measure_pulses(
    trace_mV: np.ndarray,
    pulse_indices: np.ndarray,
    fs_hz: float,
    windows: Windows = DEFAULT_WINDOWS,
    clip_mV: float | None = None,
) -> np.ndarray:
    """Measure every pulse (onsets ``pulse_indices``, samples into the trace): (n_pulses,) records.

    Every pulse is measured against the baseline before the first pulse; each pulse's windows end
    at the next onset. ``clip_mV``: samples with ``|x| >= clip_mV`` count as clipped (None: off).
    """
    x = np.ascontiguousarray(trace_mV, dtype=np.float64)
    if x.ndim != 1:
        x = np.ascontiguousarray(x.ravel())
    try:
        p = np.ascontiguousarray(pulse_indices, dtype=np.int64)
    except (OverflowError, ValueError, TypeError):
        return _invalid(np.size(pulse_indices), WINDOW_OUTSIDE)
    if p.ndim != 1:
        p = np.ascontiguousarray(p.ravel())
    n_p = p.shape[0]
    if n_p == 0:
        return np.empty(0, dtype=MEASUREMENT_DTYPE)
    fs = float(fs_hz)
    if not fs > 0.0 or fs == math.inf or x.shape[0] == 0:
        return _invalid(n_p, WINDOW_OUTSIDE)
    clip = math.inf
    if clip_mV is not None and clip_mV > 0.0:  # NaN / <= 0: clipping detection off
        clip = float(clip_mV)
    out = np.empty(n_p, dtype=MEASUREMENT_DTYPE)
    _measure_kernel(x, p, _offsets_cached(windows, fs), fs, clip, out)
    return out


def measure(
    trace_mV: np.ndarray,
    stim_index: int,
    fs_hz: float,
    windows: Windows = DEFAULT_WINDOWS,
    clip_mV: float | None = None,
) -> np.ndarray:
    """Measure the response to one pulse at sample ``stim_index``: shape-(1,) MEASUREMENT_DTYPE."""
    x = np.ascontiguousarray(trace_mV, dtype=np.float64)
    try:
        stim = int(stim_index)
        fs = float(fs_hz)
    except (OverflowError, ValueError, TypeError):
        return _invalid(1, WINDOW_OUTSIDE)
    if x.ndim != 1 or not -(2**62) < stim < 2**62:
        return measure_pulses(x, np.array([max(-(2**62), min(stim, 2**62))]), fs, windows, clip_mV)
    if not fs > 0.0 or fs == math.inf or x.shape[0] == 0:
        return _invalid(1, WINDOW_OUTSIDE)
    clip = math.inf
    if clip_mV is not None and clip_mV > 0.0:  # NaN / <= 0: clipping detection off
        clip = float(clip_mV)
    out = np.empty(1, dtype=MEASUREMENT_DTYPE)
    _measure_one(x, stim, _offsets_cached(windows, fs), fs, clip, out)
    return out


def paired_pulse_ratio(records: np.ndarray, field: str = "slope_mV_per_ms") -> float:
    """Response 2 / response 1 for a paired-pulse sweep's records (NaN if not computable)."""
    if records.shape[0] < 2:
        return math.nan
    r1, r2 = float(records[field][0]), float(records[field][1])
    if not (math.isfinite(r1) and math.isfinite(r2)) or r1 == 0.0:
        return math.nan
    return r2 / r1


JITTED = (_bad, _smooth_into, _crossing, _rise_slopes, _max_slope, _measure_kernel, _measure_one)


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every jitted function for the online dtypes."""
    fs = 20000.0
    t = np.arange(2000) / fs * 1000.0 - 20.0
    x = np.where(t > 2.5, -0.5 * np.sin(np.clip(t - 2.5, 0, 10) / 10 * np.pi), 0.0)
    x += 0.01 * np.sin(np.arange(2000) * 0.7)
    measure_pulses(x, np.array([400, 800], dtype=np.int64), fs, DEFAULT_WINDOWS, 5.0)
    measure(x, 400, fs, DEFAULT_WINDOWS, 5.0)
