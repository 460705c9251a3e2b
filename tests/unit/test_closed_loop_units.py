"""The closed loop's pure parts: I/O fit and rule, stability gate, alarms, tracking, commands."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tests.cl_harness as h
from rig.closed_loop.alarms import AlarmMonitor, merge_settings
from rig.closed_loop.controller import Controller
from rig.closed_loop.gate import check_stability
from rig.closed_loop.io_fit import boltzmann, choose_intensity, fit_boltzmann, pop_spike_threshold, quantize
from rig.closed_loop.tracking import IntensityTracker

RNG = np.random.default_rng(7)


# -- I/O fit -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("vmax", "i50", "k"), [(0.8, 120.0, 30.0), (1.5, 400.0, 90.0), (0.3, 35.0, 8.0)])
def test_boltzmann_fit_recovers_known_parameters(vmax, i50, k):
    x = np.repeat(np.linspace(max(1.0, i50 - 4 * k), i50 + 5 * k, 12), 3)
    y = boltzmann(x, vmax, i50, k) * (1 + 0.05 * RNG.standard_normal(x.size))
    fit = fit_boltzmann(x, y)
    assert fit.ok
    assert fit.vmax == pytest.approx(vmax, rel=0.06)
    assert fit.i50_uA == pytest.approx(i50, rel=0.05)
    target = i50 - k * math.log(1 / 0.4 - 1)
    assert fit.intensity_for_fraction(0.4) == pytest.approx(target, rel=0.05)


def test_fit_refuses_flat_or_too_few_points():
    assert not fit_boltzmann(np.array([10, 20, 30.0]), np.array([0.1, 0.2, 0.3])).ok
    assert not fit_boltzmann(np.arange(10.0), np.zeros(10)).ok
    flat = fit_boltzmann(np.linspace(10, 300, 12), 0.01 * RNG.standard_normal(12) + 0.5)
    assert not flat.ok


def test_pop_spike_threshold_is_the_lowest_intensity_with_a_spike_from_there_up():
    x = np.repeat([50, 100, 150, 200, 250.0], 2)
    ps = np.array([0, 0, -0.1, 0, 0, 0, -0.3, -0.2, -0.6, -0.5])  # one stray at 100 µA
    assert pop_spike_threshold(x, ps) == 200.0
    assert pop_spike_threshold(x, np.zeros_like(x)) is None


def test_rules_round_and_clamp():
    fit = fit_boltzmann(np.repeat(np.linspace(20, 300, 15), 2), boltzmann(np.repeat(np.linspace(20, 300, 15), 2),
                                                                            1.0, 120.0, 30.0))
    c = choose_intensity(fit, {"rule": "percent_of_max", "percent": 40}, None, resolution_uA=5.0)
    assert c is not None and c.intensity_uA == 110.0 and c.raw_uA == pytest.approx(107.84, abs=0.1)
    c = choose_intensity(fit, {"rule": "below_pop_spike", "margin_percent": 10}, 200.0)
    assert c is not None and c.intensity_uA == 180.0 and "pop-spike" in c.reason
    c = choose_intensity(fit, {"rule": "below_pop_spike"}, None)  # no spike: fallback 50 % of max
    assert c is not None and c.intensity_uA == 120.0 and "fallback" in c.reason
    c = choose_intensity(fit, {"rule": "percent_of_max", "percent": 95}, None, max_uA=150.0)
    assert c is not None and c.intensity_uA == 150.0 and c.clamped
    assert quantize(0.2, 1.0, 1.0, 800.0) == (1.0, True)


# -- gate ----------------------------------------------------------------------------------------
def _series(drift_pct_per_min: float, cv: float = 0.03, minutes: float = 20.0, interval_s: float = 20.0):
    t = np.arange(0, minutes * 60, interval_s)
    y = -0.5 * (1 + drift_pct_per_min / 100 * t / 60) * (1 + cv * RNG.standard_normal(t.size))
    return t, y


def test_gate_accepts_a_stable_baseline_and_rejects_drift_and_a_step():
    crit = {"max_drift_percent_per_10min": 5, "max_halves_diff_percent": 10, "window_min": 20}
    t, y = _series(0.0)
    assert check_stability(t, y, 1200.0, crit).stable
    t, y = _series(-1.5)  # 15 %/10 min rundown
    g = check_stability(t, y, 1200.0, crit)
    assert not g.stable and g.drift_percent_per_10min < -10 and "drift" in g.reason
    t, y = _series(0.0, cv=0.01)
    y[t >= 600] *= 1.2  # a step between the halves
    g = check_stability(t, y, 1200.0, {**crit, "max_drift_percent_per_10min": 50})
    assert not g.stable and g.halves_diff_percent > 10


def test_gate_uses_only_the_window_and_needs_enough_sweeps():
    t, y = _series(0.0, minutes=40)
    y[t < 1200] *= 0.5  # unstable long ago: outside the 20-min window
    assert check_stability(t, y, 2400.0, {"window_min": 20}).stable
    assert not check_stability(t[:4], y[:4], 80.0).stable


# -- alarms --------------------------------------------------------------------------------------
DT = np.dtype([("noise_mV", "f8"), ("volley_mV", "f8"), ("slope_mV_per_ms", "f8"), ("flags", "u4")])


def _rec(slope=-0.5, noise=0.025, volley=-0.1, flags=0):
    return np.array([(noise, volley, slope, flags)], dtype=DT)[0]


def test_alarm_monitor_fires_once_per_episode_and_rearms():
    mon = AlarmMonitor({"response_lost": {"sweeps": 2}})
    fired = [a.name for _ in range(6) for a in mon.on_test(0, _rec())]
    assert fired == []
    fired = [a.name for _ in range(5) for a in mon.on_test(0, _rec(slope=-0.05))]
    assert fired == ["response_lost"]
    assert mon.on_test(0, _rec()) == []
    fired = [a.name for _ in range(2) for a in mon.on_test(0, _rec(slope=-0.01))]
    assert fired == ["response_lost"]


def test_volley_noise_and_saturation_alarms_on_records():
    mon = AlarmMonitor({"volley_change": {"enabled": True}})
    for _ in range(10):  # references: slope after 5, volley after 10 sweeps
        assert mon.on_test(1, _rec()) == []
    out = [a for _ in range(2) for a in mon.on_test(1, _rec(volley=-0.05))]
    assert out == []  # the median of the last 5 has not moved yet
    out = [a for _ in range(4) for a in mon.on_test(1, _rec(volley=-0.05))]
    assert [a.name for a in out] == ["volley_change"] and out[0].pathway == 1
    out = [a.name for _ in range(2) for a in mon.on_test(1, _rec(noise=0.3))]
    assert out == ["noise"]
    assert [a.name for a in mon.on_test(1, _rec(flags=2))] == ["saturation"]
    assert mon.on_test(0, _rec()) == []  # another pathway, its own state


def test_volley_alarm_stays_disarmed_when_the_volley_is_not_measurable():
    mon = AlarmMonitor({"volley_change": {"enabled": True}})
    for v in (-0.01, 0.004, -0.02, 0.01, -0.003) * 2:  # noise, no volley
        mon.on_test(0, _rec(volley=v))
    assert [a for _ in range(10) for a in mon.on_test(0, _rec(volley=-0.2))] == []
    mon = AlarmMonitor({"volley_change": {"enabled": True}})
    for _ in range(10):  # a steady volley, but smaller than 2 × the 25 µV noise
        mon.on_test(0, _rec(volley=-0.04))
    assert [a for _ in range(10) for a in mon.on_test(0, _rec(volley=-0.2))] == []


def test_protocol_flat_alarm_table_is_understood():
    cfg = merge_settings({"response_lost_percent": 30.0, "response_lost_sweeps": 4, "response_lost_action": "pause",
                          "noise_max_uV": None, "noise_action": "continue", "volley_change_percent": 25.0,
                          "volley_action": "stop"})
    assert cfg["response_lost"] == {"enabled": True, "percent_of_baseline": 30.0, "sweeps": 4, "action": "pause"}
    assert not cfg["noise"]["enabled"]
    assert cfg["volley_change"]["enabled"] and cfg["volley_change"]["action"] == "stop"
    assert cfg["gap"]["enabled"] and cfg["saturation"]["enabled"]


def test_io_rule_in_either_form():
    from rig.closed_loop.controller import io_rule

    assert io_rule({"set_intensity": {"rule": "percent_of_max", "percent": 30}})["percent"] == 30
    assert io_rule({"intensities_uA": [1, 2], "rule": "below_pop_spike", "margin_percent": 5}) == {
        "rule": "below_pop_spike", "margin_percent": 5}
    assert io_rule({"intensities_uA": [1, 2]}) is None


def test_alarm_settings_are_checked():
    with pytest.raises(ValueError, match="unknown alarm"):
        merge_settings({"smoke": {}})
    with pytest.raises(ValueError, match="action"):
        merge_settings({"noise": {"action": "explode"}})


# -- tracking ------------------------------------------------------------------------------------
def test_tracker_raises_intensity_when_the_response_falls_and_stops_when_frozen():
    tr = IntensityTracker({"enabled": True, "every_sweeps": 2, "max_step_uA": 4})
    assert tr.on_test(0, -0.5, 100) is None and tr.on_test(0, -0.5, 100) is None  # learns the target
    tr.on_test(0, -0.4, 100)
    new, why = tr.on_test(0, -0.4, 100)
    assert new == 104.0 and why["error_percent"] == pytest.approx(25.0)
    assert tr.freeze()
    assert tr.on_test(0, -0.1, 100) is None and tr.on_test(0, -0.1, 100) is None


# -- controller commands (no engine) -------------------------------------------------------------
def _controller() -> Controller:
    plan = h.make_plan([h.baseline(60, 120), h.tbs(trains=1), h.follow_up(30)])
    return Controller(plan, limits=h.LIMITS)


def test_commands_are_recorded_with_source_and_refusals_are_explicit():
    c = _controller()
    c.schedule(int(5 * h.FS))
    docs = c.handle_command({"cmd": "pause", "source": "gui"})
    assert c.stimulation_paused and docs[0].kind == "operator" and docs[0].data["source"] == "gui"
    stims, _, _ = c.schedule(int(20 * h.FS))
    assert stims == []  # paused: no test pulses generated
    c.handle_command({"cmd": "resume", "source": "ctl"})
    stims, _, _ = c.schedule(int(30 * h.FS))
    assert stims
    docs = c.handle_command({"cmd": "intensity", "pathway": 0, "delta_uA": 750.0, "source": "terminal"})
    assert c.intensity_uA[0] == 800.0 and docs[0].data["accepted"]  # clamped to the rig limit
    docs = c.handle_command({"cmd": "set_windows", "source": "gui"})
    assert not docs[0].data["accepted"]
    docs = c.handle_command({"cmd": "set_windows", "source": "gui",
                             "data": {"window": "slope", "old_ms": [3, 4.5], "new_ms": [2.8, 4.0]}})
    assert docs[0].data["accepted"] and c.take_windows_changes() == [("slope", (2.8, 4.0), "set_windows", None)]
    docs = c.handle_command({"cmd": "set_windows", "source": "ctl", "pathway": 0,  # one pathway's window
                             "data": {"window": "slope", "new_ms": [2.9, 4.1]}})
    assert docs[0].data["accepted"] and c.take_windows_changes() == [("slope", (2.9, 4.1), "set_windows", 0)]
    docs = c.handle_command({"cmd": "set_windows", "source": "ctl", "pathway": 7,
                             "data": {"window": "slope", "new_ms": [2.9, 4.1]}})
    assert not docs[0].data["accepted"] and "not a wired pathway" in docs[0].text
    assert c.take_windows_changes() == []
    docs = c.handle_command({"cmd": "reanalyse", "source": "gui", "data": {"sweeps": 12}})
    assert docs[0].data["accepted"] and "12 sweeps re-measured by the window" in docs[0].text
    docs = c.handle_command({"cmd": "frobnicate", "source": "ctl"})
    assert not docs[0].data["accepted"] and "refused: not handled" in docs[0].text
    docs = c.handle_command({"cmd": "extend_baseline", "data": {"seconds": 60}, "source": "ctl"})
    assert docs[0].data["accepted"] and c.phase_end == int(120 * h.FS)
    docs = c.handle_command({"cmd": "stop", "source": "ctl"})
    assert c.stop_request == ("interrupted", "stopped by the operator (ctl)")


def test_command_objects_with_to_dict_are_accepted():
    class Cmd:
        def to_dict(self) -> dict:
            return {"cmd": "mark", "text": "washout", "source": "gui", "pathway": None}

    c = _controller()
    c.commands.put(Cmd())
    docs = c.poll(1234)
    assert docs[0].kind == "operator" and docs[0].sample == 1234 and docs[0].data["text"] == "washout"


def test_induce_now_is_refused_outside_a_baseline_or_at_the_last_phase():
    plan = h.make_plan([h.follow_up(30)])
    c = Controller(plan, limits=h.LIMITS)
    c.schedule(100)
    assert not c.handle_command({"cmd": "induce_now", "source": "ctl"})[0].data["accepted"]
    c = Controller(h.make_plan([h.baseline(60, 60)]), limits=h.LIMITS)
    c.schedule(100)
    assert not c.handle_command({"cmd": "induce_now", "source": "ctl"})[0].data["accepted"]
