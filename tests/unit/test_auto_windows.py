"""Automatic windows from the average of the first baseline sweeps."""

import numpy as np
import pytest

from rig import detector as D
from rig.bench.fepsp_synth import Synth
from rig.detector.proposal import average_sweeps, propose_windows


@pytest.mark.parametrize(
    "s0",
    [
        Synth(noise_uV=25.0, hum_uV=8.0),
        Synth(fs_hz=10000.0, amplitude_mV=-0.25, noise_uV=25.0),
        Synth(amplitude_mV=-1.5, noise_uV=20.0, onset_ms=3.0, volley_ms=2.3),
    ],
    ids=["20kHz", "10kHz-small", "late"],
)
def test_landmarks_and_windows(s0):
    avg, stim = average_sweeps([s0.with_(seed=i).trace() for i in range(10)], s0.stim_index)
    a = propose_windows(avg, stim, s0.fs_hz)
    assert a.ok or "uncertain" in a.message, a.message  # a short window on a noisy average warns
    lm, w = a.landmarks_ms, a.windows
    assert lm["artifact_end"] <= 0.8
    assert lm["volley"] == pytest.approx(s0.volley_ms, abs=0.15)
    assert lm["trough"] == pytest.approx(s0.true_peak_ms(), abs=0.4)
    assert s0.volley_ms < w.slope[0] <= s0.onset_ms + 0.6  # slope starts after the volley, at ~20 % rise
    # the slope window runs from ~20 % to ~60 % of the rise
    frac = s0.fepsp(np.array(w.slope)) / s0.amplitude_mV
    assert 0.1 < frac[0] < 0.35 and 0.45 < frac[1] < 0.75
    assert w.volley[1] <= w.slope[0] and w.peak[0] == w.slope[0]
    clean = s0.with_(noise_uV=0.0, hum_uV=0.0)
    r = D.measure(clean.trace(), s0.stim_index, s0.fs_hz, w, s0.clip_mV)[0]
    assert r["flags"] == 0
    assert abs(r["volley_mV"] - s0.volley_mV) < 0.005
    # the volley's tail still overlaps the window start a little: 5 %
    assert r["slope_mV_per_ms"] == pytest.approx(s0.true_regression_slope(*w.slope), rel=0.05)


def test_no_response_falls_back_to_given_windows():
    base = D.Windows().replace(slope=(2.7, 4.0))
    a = propose_windows(Synth(amplitude_mV=0.0, volley_mV=0.0, noise_uV=20.0).trace(), 400,
                        20000.0, base)
    assert not a.ok and "no response" in a.message and a.windows == base
    short = propose_windows(np.zeros(300), 200, 20000.0)
    assert not short.ok
