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

import numpy as np

from rig.detector.codes import (  # noqa: F401 - flags and the offset layout are part of this API
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
    NO_STIMULUS,
    NO_VOLLEY,
    NONFINITE,
    NOT_FEPSP,
    NOT_VOLTAGE,
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

_KERNEL_NAMES = ("_bad", "_smooth_into", "_crossing", "_rise_slopes", "_max_slope", "_steepest_at",
                 "_measure_kernel", "_measure_one")


def __getattr__(name: str):
    """The jitted functions (and ``JITTED``) load numba on first use, not on import."""
    if name != "JITTED" and name not in _KERNEL_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rig.detector import kernel

    if name == "JITTED":
        return tuple(getattr(kernel, n) for n in _KERNEL_NAMES)
    if name in _KERNEL_NAMES:
        return getattr(kernel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

FLAG_NAMES = {
    int(NO_RESPONSE): "no_response",
    int(SATURATED): "saturated",
    int(WINDOW_OUTSIDE): "window_outside",
    int(POP_SPIKE_IN_SLOPE): "pop_spike_in_slope",
    int(NONFINITE): "nonfinite",
    int(NO_VOLLEY): "no_volley",
    int(SLOPE_AT_TROUGH): "slope_at_trough",
    int(SLOPE_IN_VOLLEY): "slope_in_volley",
    int(NOT_FEPSP): "not_fepsp",
    int(NO_STIMULUS): "no_stimulus",
    int(NO_RISE): "no_rise",
    int(NOT_VOLTAGE): "not_voltage",
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


# -- windows: plain data in rig.detector.windows (numpy-free, used by rig check) ---------------
from rig.detector.windows import (  # noqa: E402,F401 - part of this API
    MAX_SMOOTH_MS,
    MAX_WINDOW_MS,
    PARAM_NAMES,
    WINDOW_NAMES,
    PathwayWindows,
    Windows,
)


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


def tail_samples(windows: Windows | PathwayWindows, fs_hz: float) -> int:
    """Samples after a pulse onset that its measurement reads: the latest window end plus the
    widest smoothing plus 0.5 ms (+1), memoised on the (immutable) Windows instance; of windows
    per pathway, the longest."""
    if isinstance(windows, PathwayWindows):
        return max(tail_samples(w, fs_hz) for w in windows.sets())
    cache = windows.__dict__.get("_tail_by_fs")
    if cache is None:
        cache = {}
        object.__setattr__(windows, "_tail_by_fs", cache)
    if fs_hz not in cache:
        d = windows.to_dict()
        ends = [float(v[1]) for v in d.values() if isinstance(v, list)]
        widths = [float(v) for v in d.values() if isinstance(v, (int, float))]
        cache[fs_hz] = int(np.ceil((max(ends) + max(widths, default=0.0) + 0.5) * fs_hz / 1000.0)) + 1
    return cache[fs_hz]


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
    from rig.detector.kernel import _measure_kernel

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
    from rig.detector.kernel import _measure_one

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


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every jitted function for the online dtypes."""
    fs = 20000.0
    t = np.arange(2000) / fs * 1000.0 - 20.0
    x = np.where(t > 2.5, -0.5 * np.sin(np.clip(t - 2.5, 0, 10) / 10 * np.pi), 0.0)
    x += 0.01 * np.sin(np.arange(2000) * 0.7)
    measure_pulses(x, np.array([400, 800], dtype=np.int64), fs, DEFAULT_WINDOWS, 5.0)
    measure(x, 400, fs, DEFAULT_WINDOWS, 5.0)
