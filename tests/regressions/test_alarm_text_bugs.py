"""The response-lost alarm raised by a sweep flagged NO_RESPONSE (e.g. the sim's noise fault) said
"response lost (175 % of reference < 20 %)": a percentage that contradicts the alarm. It now says
why it fired. Failed on the code before the fix."""

import numpy as np

from rig import detector
from rig.closed_loop.alarms import AlarmMonitor

DT = np.dtype([("noise_mV", "f8"), ("volley_mV", "f8"), ("slope_mV_per_ms", "f8"), ("flags", "u4")])


def _rec(slope: float, flags: int = 0) -> np.void:
    return np.array([(0.025, -0.1, slope, flags)], dtype=DT)[0]


def test_response_lost_by_a_no_response_flag_does_not_quote_a_contradicting_percentage():
    mon = AlarmMonitor({"response_lost": {"sweeps": 2}, "noise": {"max_uV": 1e6}})
    for _ in range(6):
        assert mon.on_test(0, _rec(-0.5)) == []
    fired = [a for _ in range(3) for a in mon.on_test(0, _rec(-0.875, int(detector.NO_RESPONSE)))]
    assert [a.name for a in fired] == ["response_lost"]
    assert "no fEPSP found" in fired[0].text and "175 %" not in fired[0].text


def test_response_lost_by_a_small_slope_quotes_the_percentage():
    mon = AlarmMonitor({"response_lost": {"sweeps": 2}})
    for _ in range(6):
        mon.on_test(0, _rec(-0.5))
    fired = [a for _ in range(3) for a in mon.on_test(0, _rec(-0.05))]
    assert "10 % of reference < 20 %" in fired[0].text
