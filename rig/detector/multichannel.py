"""Every channel of a sweep measured in one numba call (MEA mode: up to 64 electrodes).

:func:`measure_channels` takes the sweep as the engine holds it — int16 ADC counts, one row per
AI channel — with each channel's mV per count, and measures every pulse on every channel with the
single-channel kernel (:func:`rig.detector.kernel._measure_kernel`, the same compiled code, called
from the jitted loop): channel *c*'s records are exactly those of
``measure_pulses(counts[c] * mV_per_count[c], pulses, fs, windows, clip_mV[c])`` (tested). The
counts → mV conversion happens inside the loop, into one scratch row and only for the samples the
windows read (from the baseline window of the first pulse to :func:`tail_samples` after the last),
so a 64-channel sweep costs no temporaries. One compiled signature (int16 C counts, float64 scales,
int64 pulses).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
from numba import njit

from rig.detector.kernel import _measure_kernel
from rig.detector.measurement import (
    BL0,
    DEFAULT_WINDOWS,
    MEASUREMENT_DTYPE,
    WINDOW_OUTSIDE,
    Windows,
    _invalid,
    _offsets_cached,
    tail_samples,
)


@njit(cache=True, nogil=True)
def _measure_channels_kernel(counts, scale, clip, pulses, offs, fs, out, x, lo, hi):  # pragma: no cover - jitted
    """out[c] = the single-channel kernel on counts[c] × scale[c]. ``x``: scratch row (float64,
    the sweep's length) of which only [lo, hi) — every sample a window or its smoothing reads — is
    converted."""
    n_ch = counts.shape[0]
    for c in range(n_ch):
        s = scale[c]
        row = counts[c]
        for i in range(lo, hi):
            x[i] = row[i] * s
        _measure_kernel(x, pulses, offs, fs, clip[c], out[c])


def _dependencies_stamp() -> tuple[str, ...]:
    """SHA-1 of the sources the multichannel kernel compiles in besides its own file."""
    from rig.detector import codes, kernel

    return tuple(hashlib.sha1(Path(m.__file__).read_bytes()).hexdigest() for m in (kernel, codes))


def _stale_with_dependencies(dispatcher) -> None:
    """numba's on-disk cache is keyed on the caller's source file only (a change to a jitted
    function it calls in another file is not seen: numba/numba#8396, not merged): add the kernel's
    and the flags' sources to this function's stamp, so a change to either recompiles it."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):  # numba is pinned (0.68)
        cache_file._source_stamp = (cache_file._source_stamp, *_dependencies_stamp())


_stale_with_dependencies(_measure_channels_kernel)


def measure_channels(counts: np.ndarray, mV_per_count: np.ndarray, pulse_indices: np.ndarray, fs_hz: float,
                     windows: Windows = DEFAULT_WINDOWS, clip_mV: np.ndarray | None = None) -> np.ndarray:
    """Measure every pulse on every channel: (n_channels, n_pulses) records of MEASUREMENT_DTYPE.

    ``counts`` (n_channels, n) int16; ``mV_per_count`` (n_channels,); ``pulse_indices``: onsets,
    samples into the sweep; ``clip_mV`` (n_channels,): samples with ``|x| >= clip`` count as clipped
    (None: the int16 limit, 32767 counts × scale × 0.999, as the engine's field channel; a
    non-positive or NaN entry: off). Never raises on array input."""
    c = np.ascontiguousarray(counts, dtype=np.int16)
    if c.ndim != 2:
        c = c.reshape(1, -1) if c.ndim < 2 else np.ascontiguousarray(c.reshape(c.shape[0], -1))
    n_ch = c.shape[0]
    scale = np.ascontiguousarray(np.broadcast_to(np.asarray(mV_per_count, dtype=np.float64), (n_ch,)))
    try:
        p = np.ascontiguousarray(np.ravel(pulse_indices), dtype=np.int64)
    except (OverflowError, ValueError, TypeError):
        return np.stack([_invalid(np.size(pulse_indices), WINDOW_OUTSIDE)] * n_ch) if n_ch else \
            np.empty((0, np.size(pulse_indices)), dtype=MEASUREMENT_DTYPE)
    out = np.empty((n_ch, p.shape[0]), dtype=MEASUREMENT_DTYPE)
    if p.shape[0] == 0 or n_ch == 0:
        return out
    fs = float(fs_hz)
    if not fs > 0.0 or fs == math.inf or c.shape[1] == 0:
        out[:] = _invalid(p.shape[0], WINDOW_OUTSIDE)[None, :]
        return out
    if clip_mV is None:
        clip = 32767 * scale * 0.999
    else:
        clip = np.array(np.broadcast_to(np.asarray(clip_mV, dtype=np.float64), (n_ch,)))
    clip = np.where(np.isfinite(clip) & (clip > 0.0), clip, math.inf)  # NaN / <= 0: detection off
    offs = _offsets_cached(windows, fs)
    n = c.shape[1]
    lo = min(max(0, min(int(p[0]) + int(offs[BL0]), int(p.min())) - 2), n)
    hi = min(max(0, int(p.max()) + tail_samples(windows, fs) + 2), n)
    x = np.zeros(n)
    _measure_channels_kernel(c, scale, np.ascontiguousarray(clip), p, offs, fs, out, x, lo, max(lo, hi))
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) the multichannel kernel for the online dtypes."""
    fs = 20000.0
    t = np.arange(2000) / fs * 1000.0 - 20.0
    x = np.where(t > 2.5, -0.5 * np.sin(np.clip(t - 2.5, 0, 10) / 10 * np.pi), 0.0) / 0.0003
    counts = np.stack([x, 0.5 * x]).astype(np.int16)
    measure_channels(counts, np.array([0.0003, 0.0003]), np.array([400, 800], dtype=np.int64), fs)
