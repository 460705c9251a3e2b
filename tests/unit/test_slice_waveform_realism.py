"""Issue 18, waveform: pop spike only at high intensity (a varying notch), fiber volley size varies
across slices around the real −0.05 mV, faster PPF decay, no growth during 1 Hz LFS.
Measured from the model's waveform with the pipeline's detector."""

from __future__ import annotations

import numpy as np

from drivers.sim.slice import make_slice
from rig.detector.measurement import Windows, measure
from tests.slice_helpers import drive, slopes

FS = 20000.0
QUIET = {"noise_uV": 0.0, "line_uV": 0.0, "drift_uV": 0.0}


def _trace(seed: int, pulses_ms: list[float], i_uA: float, **kw) -> np.ndarray:
    m = make_slice(FS, 1, seed, **kw)
    n = int(0.7 * FS)
    stim = np.zeros((1, n))
    for t in pulses_ms:
        s = int(round(t * FS / 1000.0))
        stim[0, s:s + 2] = i_uA
    return m.respond(0, stim, np.zeros((0, n), np.uint8))[0] * 1e3 / m.params.gain


def _measure(tr: np.ndarray, at_ms: float) -> np.ndarray:
    return measure(tr, int(round(at_ms * FS / 1000.0)), FS, Windows())


def test_pop_spike_only_at_high_intensity_with_varying_latency():
    seeds = range(1, 9)
    at_150 = [float(_measure(_trace(s, [10.0], 150.0, **QUIET), 10.0)["pop_spike_mV"][0]) for s in seeds]
    assert all(v == 0.0 for v in at_150), at_150  # the shipped 150 µA: no notch in any slice
    lat, seen = [], 0
    for s in seeds:
        m = make_slice(FS, 1, s)
        i_top = 3.0 * m.params.pathways[0].i50_epsp_uA  # the top of the I/O curve
        with_ps = _trace(s, [10.0], i_top, **QUIET)
        without = _trace(s, [10.0], i_top, ps_max_mV=0.0, **QUIET)
        d = with_ps - without
        if d.min() < -0.05:
            seen += 1
            lat.append((np.argmin(d) - 200) / FS * 1e3)
    assert seen >= 5, seen  # most slices fire a population spike at the top of the I/O curve
    assert all(4.0 <= x <= 8.5 for x in lat) and np.std(lat) > 0.2, lat


def test_amplitude_ppr_at_the_shipped_intensity_is_physiological():
    ppr = []
    for s in range(1, 9):
        tr = _trace(s, [10.0, 60.0], 150.0)
        a1 = float(_measure(tr, 10.0)["amplitude_mV"][0])
        a2 = float(_measure(tr, 60.0)["amplitude_mV"][0])
        # the second response rides on the first one's tail: measure it from its own baseline
        ppr.append(a2 / a1)
    assert all(1.1 <= p <= 2.0 for p in ppr), ppr


def test_fiber_volley_varies_across_slices_around_real_size():
    fv = []
    for s in range(1, 25):
        m = make_slice(FS, 1, s, **QUIET)
        tr = _trace(s, [10.0], m.intensity_for(0.4), **QUIET)
        t = (np.arange(tr.size) - 200) / FS * 1e3
        fv.append(-tr[(t > 1.2) & (t < 2.8)].min())
    fv = np.array(fv)
    assert 0.03 <= np.median(fv) <= 0.08, np.median(fv)  # real files: ≈ −0.05 mV
    assert fv.max() / fv.min() > 4.0 and fv.max() > 0.1, fv  # and some volleys are large


def test_paired_pulse_facilitation_decays_within_200_ms():
    def ppr(seed: int, isi_ms: float) -> float:
        m = make_slice(FS, 1, seed, **QUIET)
        i = m.intensity_for(0.4)
        one = _trace(seed, [10.0], i, **QUIET)
        two = _trace(seed, [10.0, 10.0 + isi_ms], i, **QUIET)
        k = int(round((10.0 + isi_ms) * FS / 1000.0))
        second = (two - one)[k:k + int(0.03 * FS)]
        return float(second.min() / one[200:200 + int(0.03 * FS)].min())

    at50 = [ppr(s, 50.0) for s in range(1, 7)]
    at200 = [ppr(s, 200.0) for s in range(1, 7)]
    at500 = [ppr(s, 500.0) for s in range(1, 7)]
    assert 1.3 <= np.mean(at50) <= 1.8, at50
    assert 1.1 <= np.mean(at200) <= 1.25, at200  # CA1 fields: ≈ 1.1–1.25 at 200 ms (τF 0.15 s: 1.14)
    assert np.mean(at500) <= 1.1, at500


def test_responses_do_not_grow_during_1_hz_lfs():
    for seed in (1, 2):
        m = make_slice(FS, 1, seed)
        i = m.intensity_for(0.4)
        base = [(5.0 + 20.0 * k, 0, i) for k in range(10)]
        lfs = [(205.0 + k, 0, i) for k in range(300)]
        _, tr = drive(m, FS, 506.0, base + lfs)
        s = slopes(tr, FS)
        b = s[:10].mean()
        run = np.convolve(s[10:], np.ones(30) / 30, mode="valid") / b
        assert run.max() < 1.08, (seed, run.max())  # main grew to 125–150 %


def test_ppr_at_200_ms_of_seed_1_is_not_lost_to_independent_pulse_variability():
    """Issue 18: seed 1's slope PPR at 200 ms read 1.00 through `rig run` (3 pairs) because each pulse
    drew its own 7 % variability; the variability is now shared within a pair (τ 1 s), so single
    pairs scatter a few %, and 20 s apart the responses still vary independently."""
    from drivers.sim.slice import make_slice

    def pairs(seed: int, isi_s: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
        m = make_slice(FS, 1, seed, **QUIET)
        i = m.intensity_for(0.4)
        pulses = [(1.0 + 20.0 * k + d, 0, i) for k in range(n) for d in (0.0, isi_s)]
        _, tr = drive(m, FS, 20.0 * n + 2.0, pulses)
        s = slopes(tr, FS)
        return s[1::2] / s[0::2], s[0::2]

    r200, first = pairs(1, 0.2)
    assert 1.1 <= np.mean(r200) <= 1.3, r200  # model without variability: 1.205
    assert np.std(first, ddof=1) / abs(np.mean(first)) > 0.03  # test pulses 20 s apart still vary
    spread = [np.std(r, ddof=1) / np.mean(r) for r in (r200, pairs(2, 0.2)[0], pairs(3, 0.2)[0])]
    assert np.mean(spread) < 0.065, spread  # independent 5–7 % per pulse: 0.07–0.10
