"""The window's state (pure Python): time course as % of baseline, averages, counters."""

import math

import numpy as np
import pytest

from rig.bench.synthetic_stream import MEASUREMENT_DTYPE, SCALE_MV_PER_COUNT, ltp_stream
from rig.core import events as ev
from rig.core.documents import Measured, PhaseStart, RunStart, RunStop, Sweep
from rig.core.plan import Phase, Plan
from rig.core.plan import TestSchedule as Schedule
from rig.display.feed import SweepInfo
from rig.display.model import DisplayModel, TimeCourse, fit_io_curve
from rig.display.status import hms, next_stimulus_s, phase_time_left_s, status_text

FS = 20_000.0


def _run(model, pathways=(0,)):
    model.apply(RunStart(FS, ("ai0",), (SCALE_MV_PER_COUNT,), pathways, "t", 10**8, 0.0))


def _rec(slope, amp=-0.5):
    r = np.zeros(1, MEASUREMENT_DTYPE)
    r["slope_mV_per_ms"], r["amplitude_mV"] = slope, amp
    return r


def _sweep(model, index, pathway, phase, stim, slope, kind="test", counts=None, uA=50.0):
    n = 2000
    model.apply(SweepInfo(index, pathway, phase, kind, stim - 400, stim, n, uA, 0.0))
    if counts is not None:
        model.apply(Sweep(index, pathway, phase, kind, stim - 400, stim, np.array([stim]), uA, 2,
                          counts, 0.0))
    model.apply(Measured(index, pathway, phase, stim, _rec(slope)))


def test_time_course_is_percent_of_the_baseline_phase_mean():
    m = DisplayModel()
    _run(m)
    m.apply(PhaseStart(0, "baseline", "baseline", 0))
    for k, s in enumerate([-0.1, -0.2, -0.3]):  # mean -0.2
        _sweep(m, k, 0, 0, (k + 1) * 400_000, s)
    t, y, pct = m.time_course_xy(0)
    assert pct
    np.testing.assert_allclose(y, [50.0, 100.0, 150.0])
    np.testing.assert_allclose(t, [(k + 1) * 20 / 60 for k in range(3)])
    m.apply(PhaseStart(1, "TBS", "induction", 2_000_000))
    _sweep(m, 3, 0, 1, 2_000_500, -5.0, kind="train")  # trains stay off the time course
    m.apply(PhaseStart(2, "follow-up", "follow_up", 3_000_000))
    _sweep(m, 4, 0, 2, 3_000_500, -0.4)
    _, y, _ = m.time_course_xy(0)
    np.testing.assert_allclose(y, [50.0, 100.0, 150.0, 200.0])
    _, amp, pct_amp = m.time_course_xy(0, "amplitude")
    assert pct_amp and np.allclose(amp, 100.0)


def test_raw_values_before_any_baseline_point():
    m = DisplayModel()
    _run(m)
    m.apply(PhaseStart(0, "io", "io_curve", 0))
    for k, uA in enumerate([10, 20, 40, 80, 160]):
        _sweep(m, k, 0, 0, (k + 1) * 10_000, -0.05 * k, kind="io", uA=uA)
    assert m.time_course[0].n == 0 and m.v_io == 5
    assert [p[0] for p in m.io_points[0]] == [10, 20, 40, 80, 160]
    assert math.isnan(m.baseline_mean(0))


def test_running_and_baseline_averages_of_the_sweeps():
    m = DisplayModel(n_average=3)
    _run(m)
    m.apply(PhaseStart(0, "baseline", "baseline", 0))
    for k in range(5):
        counts = np.full((1, 2000), k, dtype=np.int16)
        _sweep(m, k, 0, 0, (k + 1) * 10_000, -0.1, counts=counts)
    v = m.sweeps[0]
    np.testing.assert_allclose(v.latest, 4 * SCALE_MV_PER_COUNT)
    np.testing.assert_allclose(v.average, 3 * SCALE_MV_PER_COUNT)  # mean of 2, 3, 4
    np.testing.assert_allclose(v.baseline, 2 * SCALE_MV_PER_COUNT)  # mean of 0..4
    assert v.x_ms[400] == 0.0 and v.x_ms[0] == pytest.approx(-20.0)
    m.apply(PhaseStart(1, "follow-up", "follow_up", 100_000))
    _sweep(m, 5, 0, 1, 110_000, -0.1, counts=np.full((1, 2000), 10, dtype=np.int16))
    np.testing.assert_allclose(v.baseline, 2 * SCALE_MV_PER_COUNT)  # follow-up not in baseline


def test_gaps_alarms_pause_and_intensity_from_events():
    m = DisplayModel()
    _run(m, (0, 1))
    m.apply(ev.Gap(sample=100, text="20 samples lost", samples=20))
    m.apply(ev.Alarm(sample=200, text="baseline drift 12 %", alarm="response_lost", pathway=0, action="pause"))
    m.apply(ev.Paused(sample=300, text="stimulation paused by the response_lost alarm", cause="alarm"))
    m.apply(ev.IntensitySet(sample=400, pathway=1, intensity_uA=55.0, rule="operator"))
    assert (m.gap_events, m.lost_samples, m.last_alarm, m.paused) == (1, 20, "baseline drift 12 %",
                                                                     True)
    assert m.intensity_uA[1] == 55.0
    st = status_text(m, None, None)
    assert st.gaps_alarm and st.state == "PAUSED" and "S2 55 µA" in st.intensity
    assert [e.kind for e in m.marker_events()] == ["gap", "alarm", "paused"]
    m.apply(RunStop(500, "completed", gaps=1, lost_samples=20))
    assert status_text(m, None, None).state == "STOPPED (completed)"


def test_time_course_grows_beyond_its_preallocation():
    tc = TimeCourse(16)
    for i in range(40):
        tc.append(i, -0.1, -0.5, math.nan, i, 0)
    assert tc.n == 40 and tc.capacity == 64
    np.testing.assert_array_equal(tc["t_s"], np.arange(40))


def test_a_four_hour_two_pathway_run_is_preallocated():
    m = DisplayModel()
    docs = list(ltp_stream(interval_s=10, baseline_min=30, followup_min=210, with_sweeps=False))
    m.apply_all(docs)
    for p in (0, 1):
        assert m.time_course[p].n == 720
        assert m.time_course[p].capacity >= 4 * 3600  # 4 h at 1 sweep/s, no reallocation
    _, y, _ = m.time_course_xy(0)
    assert 140 < np.mean(y[-100:]) < 180  # potentiated pathway
    _, y1, _ = m.time_course_xy(1)
    assert 90 < np.mean(y1[-100:]) < 110  # control pathway


def test_io_fit_recovers_a_boltzmann_curve():
    x = np.linspace(10, 200, 12)
    y = -0.8 / (1 + np.exp((80 - x) / 20))
    xs, ys = fit_io_curve(x, y)
    np.testing.assert_allclose(np.interp(x, xs, ys), y, atol=0.03)
    assert fit_io_curve(x[:3], y[:3]) is None


def test_phase_time_left_and_next_stimulus_from_the_plan():
    plan = Plan("p", FS, (Phase("baseline", "baseline", int(600 * FS),
                                test=Schedule(int(20 * FS))),))
    m = DisplayModel()
    _run(m)
    m.apply(PhaseStart(0, "baseline", "baseline", 0))
    m.apply(ev.Operator(sample=int(125 * FS), cmd="mark", note="x", accepted=True))
    assert phase_time_left_s(m, plan) == pytest.approx(475.0)
    assert next_stimulus_s(m, plan) == pytest.approx(15.0)
    assert hms(475) == "7:55" and hms(3725) == "1:02:05" and hms(math.nan) == "—"
