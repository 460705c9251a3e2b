"""Virtual slice: waveform shape vs PRACTICE.md, noise, artifact, determinism, block independence."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.slice import make_slice
from tests.slice_helpers import drive, slopes

FS = 20000.0
QUIET = {"noise_uV": 0.0, "line_uV": 0.0, "drift_uV": 0.0}


def _single(seed: int, i_uA: float, **kw) -> tuple[np.ndarray, np.ndarray]:
    m = make_slice(FS, 1, seed, **kw)
    n = 2000
    stim = np.zeros((1, n))
    stim[0, 200:202] = i_uA
    mv = m.respond(0, stim, np.zeros((0, n), np.uint8))[0] * 1e3 / m.params.gain
    t = (np.arange(n) - 200) / FS * 1e3
    return t, mv


def _i_for(seed: int, target_mV: float) -> float:
    """Test intensity giving roughly the target fEPSP amplitude (from the slice's I/O curve)."""
    for i in np.arange(10, 1000, 2.0):
        t, mv = _single(seed, i, **QUIET)
        if mv[(t > 4) & (t < 12)].min() < -target_mV:
            return float(i)
    raise AssertionError("no intensity reaches the target")


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_shape_matches_real_recordings(seed):
    i_uA = _i_for(seed, 0.25)
    t, mv = _single(seed, i_uA, **QUIET)
    win = (t > 4) & (t < 12)
    k = np.flatnonzero(win)[np.argmin(mv[win])]
    assert 5.6 <= t[k] <= 6.8  # trough 5.8–6.6 ms in the real files
    fvw = (t > 1.2) & (t < 2.8)
    j = np.flatnonzero(fvw)[np.argmin(mv[fvw])]
    assert 1.6 <= t[j] <= 2.5  # fiber volley 1.7–2.5 ms
    assert -0.15 < mv[j] < -0.01
    pk = mv[k]
    a = k - np.flatnonzero(mv[k::-1] > 0.2 * pk)[0]  # last sample above 20 % before the trough
    b = k - np.flatnonzero(mv[k::-1] > 0.8 * pk)[0]
    slope = (mv[b] - mv[a]) / (t[b] - t[a])
    assert -0.20 < slope < -0.10  # 20–80 % slope −0.11 to −0.18 mV/ms at −0.2…−0.3 mV
    dec = (t > t[k] + 8) & (t < t[k] + 40)
    tau = -1 / np.polyfit(t[dec], np.log(-mv[dec]), 1)[0]
    assert 11.0 <= tau <= 18.0  # decay τ 13–17 ms


def test_no_pulse_no_response():
    m = make_slice(FS, 2, 5, **QUIET)
    out = m.respond(0, np.zeros((2, 40000)), np.zeros((0, 40000), np.uint8))
    assert np.all(out == 0.0)
    m2 = make_slice(FS, 2, 5)
    noisy = m2.respond(0, np.zeros((2, 40000)), np.zeros((0, 40000), np.uint8))
    assert m2.pulses_delivered == 0
    assert np.abs(noisy).max() * 1e3 / 1000 < 0.3  # only noise/pickup/drift, no evoked fEPSP


@pytest.mark.parametrize("seed", [1, 7, 11])
def test_noise_rms_and_pickup(seed):
    m = make_slice(FS, 1, seed)
    out = m.respond(0, np.zeros((1, 200000)), np.zeros((0, 200000), np.uint8))[0]
    uV = out * 1e6 / m.params.gain
    # baseline noise as an analysis program sees it: SD in 5 ms windows, median over windows
    w = uV[: 200000 // 100 * 100].reshape(-1, 100)
    sd = np.median(w.std(axis=1))
    assert 15.0 <= sd <= 36.0
    spec = np.abs(np.fft.rfft(uV[:200000])) * 2 / 200000
    f = np.fft.rfftfreq(200000, 1 / FS)
    hum = spec[np.argmin(np.abs(f - 50.0))]
    assert 0.5 <= hum <= 12.5  # 50 Hz pickup ≤ 12 µV


def test_artifact_clips_adc_at_high_intensity():
    t, mv = _single(3, 600.0, **QUIET)
    clipped = t[np.abs(mv) >= 10.0]  # ±10 V ADC at gain 1000 = ±10 mV at the electrode
    assert clipped.size > 0
    assert 0.1 <= clipped.max() - clipped.min() + 1 / FS * 1e3 <= 0.45
    t, mv = _single(3, 100.0, **QUIET)
    assert np.abs(mv[(t > 1.0) & (t < 20)]).max() < 3.0  # artifact gone by 1 ms


def test_deterministic_and_block_independent():
    pulses = [(0.1, 0, 120.0), (0.15, 0, 120.0), (0.2999, 1, 90.0)] + [
        (0.5 + k * 0.01, 0, 150.0) for k in range(20)]
    outs = []
    for block in (20000, 1999, 333):
        m = make_slice(FS, 2, 42)
        o = []
        for start in range(0, 20000, block):
            n = min(block, 20000 - start)
            stim = np.zeros((2, n))
            for t, el, i in pulses:
                s = int(round(t * FS))
                for q in range(s, s + 3):  # 3-sample pulses cross the 333/1999 boundaries
                    if start <= q < start + n:
                        stim[el, q - start] = i
            o.append(m.respond(start, stim, np.zeros((0, n), np.uint8)))
        outs.append(np.concatenate(o, axis=1))
        assert m.pulses_delivered == len(pulses)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-9)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-9)
    other = make_slice(FS, 2, 43).respond(0, np.zeros((2, 20000)), np.zeros((0, 20000), np.uint8))
    assert not np.allclose(outs[0], other)


def test_biphasic_counts_once_and_gain_scales():
    m = make_slice(FS, 1, 1, **QUIET)
    stim = np.zeros((1, 2000))
    stim[0, 100:102] = 150.0
    stim[0, 102:104] = -150.0
    a = m.respond(0, stim, np.zeros((0, 2000), np.uint8))
    assert m.pulses_delivered == 1
    m10 = make_slice(FS, 1, 1, gain=10.0, **QUIET)
    b = m10.respond(0, stim, np.zeros((0, 2000), np.uint8))
    np.testing.assert_allclose(a, b * 100.0, rtol=1e-9, atol=1e-12)


def test_two_channels_and_io_presets():
    m = make_slice(FS, 2, 3, n_ai=2)
    out = m.respond(0, np.zeros((2, 1000)), np.zeros((0, 1000), np.uint8))
    assert out.shape == (2, 1000)
    for electrode, lo, hi in (("concentric", 60.0, 600.0), ("tungsten", 8.0, 90.0)):
        s = make_slice(FS, 1, 3, electrode=electrode)
        assert lo < s.params.pathways[0].i50_epsp_uA < hi


def test_sweep_to_sweep_cv_of_measured_slope():
    fs = 20000.0
    cvs = []
    for seed in (1, 2, 3):
        m = make_slice(fs, 1, seed, rundown_per_h=0.0)
        i_uA = _i_for(seed, 0.3)
        _, tr = drive(m, fs, 600.0, [(t, 0, i_uA) for t in np.arange(1.0, 600.0, 10.0)])
        s = slopes(tr, fs)
        cvs.append(s.std(ddof=1) / abs(s.mean()))
    assert 0.06 <= np.mean(cvs) <= 0.09, cvs  # real recordings: 6–8 %


def test_paired_pulse_ratio_and_train():
    ppr = []
    for seed in range(1, 7):
        i_uA = _i_for(seed, 0.25)
        m = make_slice(FS, 1, seed, **QUIET)
        _, tr = drive(m, FS, 1.0, [(0.2, 0, i_uA), (0.25, 0, i_uA)])
        ppr.append(tr[1].min() / tr[0].min())
    assert all(1.25 <= p <= 1.85 for p in ppr)
    assert 1.3 <= np.mean(ppr) <= 1.8
    # 100 Hz train: pulse k's own response = train(k pulses) − train(k − 1 pulses)
    def train(n_pulses: int) -> np.ndarray:
        m = make_slice(FS, 1, 2, sweep_cv=0.0, **QUIET)
        stim = np.zeros((1, 20000))
        for k in range(n_pulses):
            stim[0, 1000 + 200 * k:1002 + 200 * k] = 120.0
        return m.respond(0, stim, np.zeros((0, 20000), np.uint8))[0]

    def own(k: int) -> float:
        d = train(k) - train(k - 1)
        on = 1000 + 200 * (k - 1)
        return -d[on + 50:on + 180].min()

    r1, r2, r3, r30 = own(1), own(2), own(3), own(30)
    assert r2 > 1.2 * r1 and r3 > r1  # facilitation …
    assert r30 < 0.6 * r2  # … then depression


def test_bench_slice_reports_its_figures():
    from rig.bench.sim import bench_slice

    r = bench_slice(sim_s=20.0)
    assert r["sim_channels"] == 2 and r["sim_sample_rate_hz"] == 20000.0
    assert r["sim_realtime_factor"] > 0 and r["sim_seconds"] > 19.0
    assert r["sim_pulses"] == 2  # two test pulses in 20 s (the first train comes at 30 s)
