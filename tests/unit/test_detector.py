"""rig.detector.measurement against synthetic ground truth and the numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from rig import detector as D
from rig.bench.fepsp_synth import Synth
from rig.detector import reference as R

W = D.Windows()


def one(s: Synth, windows: D.Windows = W, clip: float | None = -1.0) -> np.void:
    clip_mV = s.clip_mV if clip == -1.0 else clip
    return D.measure(s.trace(), s.stim_index, s.fs_hz, windows, clip_mV)[0]


def batch(s: Synth, seeds: range, **kw) -> dict[str, np.ndarray]:
    recs = np.concatenate([D.measure(s.with_(seed=i, hum_phase=0.37 * i, **kw).trace(),
                                     s.stim_index, s.fs_hz, W, s.clip_mV) for i in seeds])
    return {f: recs[f] for f in recs.dtype.names}


# -- ground truth ------------------------------------------------------------------------------
def test_noise_free_measurements_match_ground_truth():
    s = Synth()  # -0.5 mV fEPSP, -50 µV volley, saturating artifact, 20 kHz
    r = one(s)
    assert r["flags"] == 0
    assert r["baseline_mV"] == pytest.approx(0.0, abs=1e-12)
    assert r["slope_mV_per_ms"] == pytest.approx(s.true_regression_slope(*W.slope), rel=1e-3)
    assert r["amplitude_mV"] == pytest.approx(s.amplitude_mV, rel=0.005)
    assert abs(r["volley_mV"] - s.volley_mV) < 0.005  # within 5 µV
    assert r["volley_latency_ms"] == pytest.approx(s.volley_ms, abs=0.05)
    assert r["peak_latency_ms"] == pytest.approx(s.true_peak_ms(), abs=0.1)
    # placed on the smoothed slope curve (no noise bias, issue 15): at this synthetic's kinked onset (a
    # difference of exponentials without latency dispersion, steepest at its very first sample) it reads
    # up to 11 % below the steepest 1 ms chord; on sigmoid-like rises within 2 % (test below)
    assert r["slope_max_mV_per_ms"] == pytest.approx(s.true_max_slope(1.0), rel=0.12)
    assert r["slope_2080_mV_per_ms"] == pytest.approx(s.true_rise_slope(0.2, 0.8), rel=0.01)
    assert r["slope_1090_mV_per_ms"] == pytest.approx(s.true_rise_slope(0.1, 0.9), rel=0.01)
    assert r["pop_spike_mV"] == 0.0


@pytest.mark.parametrize("amp, fs", [(-0.2, 10000.0), (-1.0, 20000.0), (-2.0, 20000.0)])
def test_noise_free_other_sizes_and_rates(amp, fs):
    s = Synth(amplitude_mV=amp, fs_hz=fs)
    r = one(s)
    assert r["amplitude_mV"] == pytest.approx(amp, rel=0.01)
    assert r["slope_mV_per_ms"] == pytest.approx(s.true_regression_slope(*W.slope), rel=1e-3)
    assert r["slope_max_mV_per_ms"] == pytest.approx(s.true_max_slope(1.0), rel=0.12)  # kinked onset (above)
    smooth_rise = Synth(amplitude_mV=amp, fs_hz=fs, rise_sigma_ms=0.35)  # a real fEPSP's sigmoid-like rise
    r = one(smooth_rise)
    assert r["slope_max_mV_per_ms"] == pytest.approx(smooth_rise.true_max_slope(1.0), rel=0.02)


def test_regression_slope_at_20uV_noise_is_unbiased_and_at_the_statistical_floor():
    """-0.5 mV response, 20 µV RMS white noise + 5 µV 50 Hz hum, 100 sweeps.

    A single sweep cannot be within 3 % every time: with 30 samples in the 1.5 ms window the
    least-squares standard error is σ·fs/√Sxx ≈ 4.5 % of this slope (no unbiased linear
    estimator does better). We check the bias (mean within 1 %), that the mean of each block of
    20 sweeps (5 min at 4 sweeps/min) is within 3 %, and that the scatter is at that floor.
    """
    s = Synth(noise_uV=20.0, hum_uV=5.0)
    true = s.true_regression_slope(*W.slope)
    got = batch(s, range(100))["slope_mV_per_ms"]
    err = got / true - 1.0
    assert abs(err.mean()) < 0.01
    block_means = got.reshape(5, 20).mean(axis=1)
    assert np.all(np.abs(block_means / true - 1.0) < 0.03)
    n = int(round(1.5 * s.fs_hz / 1000))
    floor = 0.020 / np.sqrt(n * (n * n - 1) / 12.0) * s.fs_hz / 1000 / abs(true)
    assert err.std() < 1.2 * floor


def test_amplitude_within_2_percent():
    s = Synth(noise_uV=10.0)
    amp = batch(s, range(50))["amplitude_mV"]
    assert np.all(np.abs(amp / s.amplitude_mV - 1.0) < 0.02)
    s20 = Synth(noise_uV=20.0, hum_uV=5.0)
    amp20 = batch(s20, range(50))["amplitude_mV"]
    assert np.sqrt(np.mean((amp20 / s20.amplitude_mV - 1.0) ** 2)) < 0.02


def test_fiber_volley_within_10_uV():
    s = Synth(noise_uV=10.0)
    v = batch(s, range(50))["volley_mV"]
    assert np.sqrt(np.mean((v - s.volley_mV) ** 2)) < 0.010
    s20 = Synth(noise_uV=20.0, hum_uV=5.0)
    assert abs(batch(s20, range(50))["volley_mV"].mean() - s20.volley_mV) < 0.010


def test_pop_spike_tangent_method():
    s = Synth(amplitude_mV=-1.5, pop_spike_mV=-0.8)
    r = one(s)
    assert r["pop_spike_mV"] == pytest.approx(s.true_pop_spike(), rel=0.05)
    assert not r["flags"] & D.POP_SPIKE_IN_SLOPE
    noisy = batch(Synth(amplitude_mV=-1.5, pop_spike_mV=-0.8, noise_uV=20.0), range(20))
    assert np.all(np.abs(noisy["pop_spike_mV"] / s.true_pop_spike() - 1.0) < 0.10)
    # no spike → 0.0 even with noise
    assert np.all(batch(Synth(amplitude_mV=-1.5, noise_uV=30.0), range(20))["pop_spike_mV"] == 0.0)


def test_early_pop_spike_flags_the_slope_window():
    s = Synth(amplitude_mV=-1.5, pop_spike_mV=-1.0, pop_spike_ms=4.6)
    r = one(s)
    assert r["pop_spike_mV"] < -0.5
    assert r["flags"] & D.POP_SPIKE_IN_SLOPE


# -- flags -------------------------------------------------------------------------------------
def test_no_response_flag():
    r = one(Synth(amplitude_mV=-0.03, volley_mV=-0.01, noise_uV=30.0))
    assert r["flags"] & D.NO_RESPONSE
    assert not one(Synth(noise_uV=30.0))["flags"] & D.NO_RESPONSE


def test_clipped_samples_never_enter_a_measurement():
    # artifact clipped for 0.2 ms; blanked window 0–0.8 ms → nothing flagged
    s = Synth(artifact_mV=4.0 * np.exp(2.5), artifact_tau_ms=0.08)
    assert np.count_nonzero(np.abs(s.trace()) >= s.clip_mV) >= 4
    assert one(s)["flags"] == 0
    # a long artifact that still saturates inside the volley window
    long = Synth(artifact_tau_ms=0.5)
    r = one(long)
    assert r["flags"] & D.SATURATED
    assert np.isnan(r["volley_mV"])
    assert np.isfinite(r["amplitude_mV"])  # the peak window is clean
    # a saturated fEPSP: amplitude is not reported
    big = Synth(amplitude_mV=-5.0, clip_mV=4.0)
    r = one(big)
    assert r["flags"] & D.SATURATED and np.isnan(r["amplitude_mV"])


def test_nonfinite_and_outside():
    s = Synth()
    x = s.trace()
    x[s.stim_index + 120] = np.nan  # 6 ms: inside the peak window
    r = D.measure(x, s.stim_index, s.fs_hz, W, s.clip_mV)[0]
    assert r["flags"] & D.NONFINITE and np.isnan(r["amplitude_mV"])
    assert np.isfinite(r["slope_mV_per_ms"])
    r = D.measure(s.trace(), s.n_samples + 5, s.fs_hz, W)[0]
    assert r["flags"] & D.WINDOW_OUTSIDE and np.isnan(r["baseline_mV"])
    r = D.measure(s.trace()[: s.stim_index + 100], s.stim_index, s.fs_hz, W)[0]  # 5 ms after
    assert r["flags"] & D.WINDOW_OUTSIDE
    assert np.isfinite(r["slope_mV_per_ms"])  # slope window still inside
    for bad_fs in (0.0, -1.0, np.nan, np.inf):
        assert D.measure(s.trace(), s.stim_index, bad_fs, W)[0]["flags"] & D.WINDOW_OUTSIDE
    assert D.measure(s.trace(), 10**30, s.fs_hz, W)[0]["flags"] & D.WINDOW_OUTSIDE
    assert D.measure_pulses(s.trace(), np.array([], dtype=np.int64), s.fs_hz).shape == (0,)


# -- trains and paired pulses --------------------------------------------------------------------
def _train(isi_ms: float, n: int, facil: float = 1.0, fs: float = 20000.0):
    base = Synth(fs_hz=fs, post_ms=isi_ms * n + 60.0)
    t = base.t_ms()
    x = base.artifact(t)
    for k in range(n):
        x = x + base.with_(amplitude_mV=base.amplitude_mV * facil**k).clean(t - k * isi_ms)
        x = x + base.artifact(t - k * isi_ms) * (k > 0)
    x = np.clip(x, -base.clip_mV, base.clip_mV)
    pulses = base.stim_index + np.round(np.arange(n) * isi_ms * fs / 1000).astype(np.int64)
    return base, x, pulses


def test_paired_pulse_ratio_and_reference_agreement():
    base, x, pulses = _train(50.0, 2, facil=1.5)
    recs = D.measure_pulses(x, pulses, base.fs_hz, W, base.clip_mV)
    assert recs.shape == (2,)
    assert D.paired_pulse_ratio(recs, "amplitude_mV") == pytest.approx(1.5, rel=0.02)
    assert D.paired_pulse_ratio(recs) == pytest.approx(1.5, rel=0.02)
    assert recs["baseline_mV"][1] == recs["baseline_mV"][0]
    assert_agree(recs, R.measure_pulses(x, pulses, base.fs_hz, W, base.clip_mV))


def test_train_pulses_use_pre_train_baseline_and_stop_at_next_pulse():
    base, x, pulses = _train(10.0, 5)  # 100 Hz: responses summate
    recs = D.measure_pulses(x, pulses, base.fs_hz, W, base.clip_mV)
    assert np.all(recs["baseline_mV"] == recs["baseline_mV"][0])
    # pulse k's peak is searched before pulse k+1 (10 ms), and summation deepens the trough
    assert np.all(recs["peak_latency_ms"][:-1] < 10.0)
    assert np.all(np.diff(recs["amplitude_mV"]) < 0)
    assert_agree(recs, R.measure_pulses(x, pulses, base.fs_hz, W, base.clip_mV))


# -- numba == numpy reference ------------------------------------------------------------------
def assert_agree(a: np.ndarray, b: np.ndarray) -> None:
    assert np.array_equal(a["flags"], b["flags"]), (D.flag_names(a["flags"][0]), b["flags"])
    for f in D.FLOAT_FIELDS:
        np.testing.assert_allclose(a[f], b[f], rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=f)


SIGNALS = [
    Synth(),
    Synth(noise_uV=20.0, hum_uV=10.0, seed=3),
    Synth(noise_uV=50.0, hum_uV=12.0, seed=4, amplitude_mV=-0.2),
    Synth(amplitude_mV=-2.0, pop_spike_mV=-1.2, noise_uV=25.0, seed=5),
    Synth(amplitude_mV=-1.5, pop_spike_mV=-1.0, pop_spike_ms=4.6),
    Synth(fs_hz=10000.0, noise_uV=30.0, seed=6),
    Synth(artifact_tau_ms=0.5, noise_uV=20.0, seed=7),
    Synth(amplitude_mV=-5.0, noise_uV=20.0, seed=8),
    Synth(amplitude_mV=-0.02, volley_mV=0.0, noise_uV=30.0, seed=9),
    Synth(baseline_mV=3.0, noise_uV=20.0, clip_mV=None, artifact_mV=2.0, seed=10),
]


@pytest.mark.parametrize("s", SIGNALS, ids=range(len(SIGNALS)))
@pytest.mark.parametrize(
    "windows",
    [W, W.replace(slope=(2.8, 4.0), peak=(3, 10), max_slope_width_ms=0.5, volley_smooth_ms=0)],
    ids=["default", "custom"],
)
def test_numba_agrees_with_reference(s, windows):
    x = s.trace()
    a = D.measure(x, s.stim_index, s.fs_hz, windows, s.clip_mV)
    b = R.measure_pulses(x, [s.stim_index], s.fs_hz, windows, s.clip_mV)
    assert_agree(a, b)


# -- windows -----------------------------------------------------------------------------------
def test_windows_roundtrip_and_override():
    w = W.override("slope=2.9:4.2").override("max_slope_width_ms=0.8")
    assert w.slope == (2.9, 4.2) and w.max_slope_width_ms == 0.8
    assert D.Windows.from_dict(w.to_dict()) == w
    assert W.replace(peak=(3, 12)).peak == (3.0, 12.0)
    for bad in ("slope=4:3", "slop=1:2", "slope=a:b", "slope", "slope=1", "baseline=1:2",
                "slope=0.1:0.5", "peak_smooth_ms=-1", "max_slope_width_ms=nan"):
        with pytest.raises(ValueError):
            W.override(bad)
    with pytest.raises(ValueError):
        D.Windows.from_dict({"nope": [1, 2]})


def test_measurement_dtype_is_stable():
    assert D.MEASUREMENT_DTYPE.names == D.FLOAT_FIELDS + ("flags",)
    assert D.MEASUREMENT_DTYPE["flags"] == np.uint32
    assert set(D.SLOPE_FIELD.values()) <= set(D.FLOAT_FIELDS)
