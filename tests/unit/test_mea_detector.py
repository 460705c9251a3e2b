"""MEA mode's detector: every channel of a sweep in one numba call gives, channel by channel, exactly
what the single-channel measurement gives (the engine's field channel path: counts × scale)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rig import detector
from rig.bench.detector import mea_sweep
from rig.detector import multichannel
from rig.detector.multichannel import measure_channels


def _single(counts, scale, pulses, fs, w, clip=None):
    return np.stack([detector.measure_pulses(counts[c] * scale[c], pulses, fs, w,
                                             32767 * scale[c] * 0.999 if clip is None else clip[c])
                     for c in range(counts.shape[0])])


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(np.array_equal(a[f], b[f], equal_nan=True) for f in a.dtype.names)


def test_64_channels_equal_the_single_channel_kernel_channel_by_channel():
    counts, scale, pulses, fs = mea_sweep(64)
    w = detector.Windows()
    got = measure_channels(counts, scale, pulses, fs, w)
    assert got.shape == (64, 1) and got.dtype == detector.MEASUREMENT_DTYPE
    assert _equal(got, _single(counts, scale, pulses, fs, w))
    # the sweep holds what an array records: big responses, none at all, saturated channels
    assert np.nanmin(got["slope_mV_per_ms"]) < -0.1 and (got["flags"] & int(detector.NO_RESPONSE)).any()


def test_trains_clipped_channels_and_own_scales_per_channel():
    counts, scale, _, fs = mea_sweep(8, seed=3)
    scale = scale * np.linspace(0.5, 2.0, 8)  # every channel its own gain
    counts[2, 400:420] = 32767  # a channel clipped in its baseline
    counts[5] = 0  # a dead channel
    pulses = np.array([400, 600, 800, 1000], dtype=np.int64)  # a 100 Hz burst of 4
    w = detector.Windows()
    got = measure_channels(counts, scale, pulses, fs, w)
    assert got.shape == (8, 4)
    assert _equal(got, _single(counts, scale, pulses, fs, w))
    assert got["flags"][2, 0] & int(detector.SATURATED)


def test_explicit_clip_levels_and_degenerate_inputs_never_raise():
    counts, scale, pulses, fs = mea_sweep(4, seed=5)
    clip = np.array([0.5, np.nan, 0.0, 10.0])  # NaN / 0: clipping detection off (as measure_pulses)
    w = detector.Windows()
    assert _equal(measure_channels(counts, scale, pulses, fs, w, clip),
                  np.stack([detector.measure_pulses(counts[c] * scale[c], pulses, fs, w, clip[c]) for c in range(4)]))
    assert measure_channels(counts, scale, np.array([], dtype=np.int64), fs).shape == (4, 0)
    bad = measure_channels(counts, scale, pulses, 0.0)
    assert bad.shape == (4, 1) and np.all(bad["flags"] & int(detector.WINDOW_OUTSIDE))
    out = measure_channels(counts, scale, np.array([-50, 10**9]), fs)  # pulses outside the sweep
    assert np.all(out["flags"] & int(detector.WINDOW_OUTSIDE))


@settings(max_examples=40, deadline=None)
@given(first=st.integers(-100, 2100), gap=st.integers(1, 600), n=st.integers(1, 3),
       base0=st.floats(-19.0, -1.0), slope0=st.floats(0.9, 8.0), width=st.floats(0.3, 3.0),
       peak1=st.floats(4.0, 40.0), ps1=st.floats(4.0, 40.0), smooth=st.floats(0.0, 2.0))
def test_equal_for_any_windows_and_pulses(first, gap, n, base0, slope0, width, peak1, ps1, smooth):
    """Only the samples the windows read are converted: the results still equal the single-channel
    ones for windows anywhere in (or beyond) the sweep and pulses anywhere."""
    counts, scale, _, fs = mea_sweep(3, seed=7)
    w = detector.Windows(baseline=(base0, -0.5), slope=(slope0, slope0 + width), peak=(2.5, peak1),
                         pop_spike=(3.0, ps1), peak_smooth_ms=smooth, pop_spike_smooth_ms=smooth)
    pulses = first + gap * np.arange(n, dtype=np.int64)
    assert _equal(measure_channels(counts, scale, pulses, fs, w), _single(counts, scale, pulses, fs, w))


def test_the_cache_goes_stale_with_the_single_channel_kernel():
    """numba caches the multichannel kernel keyed on its own file only; the stamp carries the
    kernel's and the flags' sources too, so a change there recompiles it."""
    stamp = multichannel._measure_channels_kernel._cache._cache_file._source_stamp
    assert stamp[1:] == multichannel._dependencies_stamp() and len(stamp[1]) == 40
