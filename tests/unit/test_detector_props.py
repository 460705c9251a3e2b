"""Property tests: the detector never raises, and never recompiles mid-run."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rig import detector as D
from rig.bench.fepsp_synth import Synth

FS = st.sampled_from([5000.0, 10000.0, 20000.0, 50000.0])
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
anyfloat = st.floats(allow_nan=True, allow_infinity=True)


def _check(recs: np.ndarray, n: int) -> None:
    assert recs.dtype == D.MEASUREMENT_DTYPE and recs.shape == (n,)
    for f in ("volley_mV", "slope_mV_per_ms", "amplitude_mV", "pop_spike_mV"):
        v = recs[f]
        assert np.all(np.isnan(v) | np.isfinite(v))


@settings(max_examples=150, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 800), elements=finite),
    stim=st.integers(-50, 900),
    fs=FS,
    clip=st.one_of(st.none(), st.floats(0.001, 1e7)),
)
def test_any_finite_input_never_raises(x, stim, fs, clip):
    _check(D.measure(x, stim, fs, D.Windows(), clip), 1)


@settings(max_examples=100, deadline=None)
@given(
    x=arrays(np.float64, st.integers(0, 600), elements=anyfloat),
    pulses=st.lists(st.integers(-10, 700), min_size=0, max_size=6),
    fs=FS,
)
def test_nonfinite_input_gives_flags_not_exceptions(x, pulses, fs):
    recs = D.measure_pulses(x, np.array(pulses, dtype=np.int64), fs, D.Windows(), 1.0)
    _check(recs, len(pulses))


@settings(max_examples=40, deadline=None)
@given(bad=st.sampled_from([np.nan, np.inf, -np.inf]), frac=st.floats(0.0, 1.0))
def test_nan_inf_sweep_is_flagged(bad, frac):
    s = Synth(noise_uV=20.0)
    x = s.trace()
    x[int(frac * (x.size - 1))] = bad
    r = D.measure(x, s.stim_index, s.fs_hz, D.Windows(), s.clip_mV)[0]
    x2 = np.full_like(x, bad)
    r2 = D.measure(x2, s.stim_index, s.fs_hz, D.Windows(), s.clip_mV)[0]
    assert r2["flags"] & D.NONFINITE and np.isnan(r2["amplitude_mV"])
    if np.isnan(r["amplitude_mV"]) or np.isnan(r["slope_mV_per_ms"]):
        assert r["flags"] & D.NONFINITE


@given(level=st.floats(0.01, 10.0), sign=st.sampled_from([-1.0, 1.0]))
@settings(max_examples=30, deadline=None)
def test_fully_clipped_sweep_is_flagged(level, sign):
    x = np.full(2000, sign * level)
    r = D.measure(x, 400, 20000.0, D.Windows(), level)[0]
    assert r["flags"] & D.SATURATED
    assert np.isnan(r["baseline_mV"]) and np.isnan(r["amplitude_mV"])


def test_odd_inputs_are_normalised_not_recompiled():
    """A realistic batch (test sweeps, paired pulses, trains, float32, strided views, lists, int
    arrays, Python ints) leaves every jitted function with one compiled signature."""
    D.warm_up()
    s = Synth(noise_uV=25.0, hum_uV=8.0)
    x = s.trace()
    w = D.Windows()
    for i in range(50):
        D.measure(Synth(noise_uV=25.0, seed=i).trace(), s.stim_index, s.fs_hz, w, 4.0)
    D.measure(x.astype(np.float32), np.int32(s.stim_index), 20000, w, 4)
    D.measure(np.repeat(x, 2)[::2], s.stim_index, s.fs_hz, w)  # strided view
    D.measure(list(x[:1000]), s.stim_index, s.fs_hz, w, None)
    D.measure((x * 1000).astype(np.int16), s.stim_index, s.fs_hz, w, 32767)
    D.measure_pulses(x, [s.stim_index, s.stim_index + 1000], s.fs_hz, w, 4.0)
    D.measure_pulses(x, np.arange(400, 1400, 200, dtype=np.int32), s.fs_hz, w.override("peak=2:9"))
    D.measure_pulses(x[None, :], np.array([[400]]), s.fs_hz, w)
    for fn in D.JITTED:
        assert len(fn.signatures) <= 1, fn
    assert len(D._measure_kernel.signatures) == 1
    assert len(D._measure_one.signatures) == 1
