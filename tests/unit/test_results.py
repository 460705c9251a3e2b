"""The result's definition (rig.analysis.results) on hand-made per-sweep arrays."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from rig import detector as D
from rig.analysis import results as R


def _series(n_base=10, n_follow=40, interval_s=30.0, base=-0.2, follow=-0.3):
    t = np.arange(n_base + n_follow) * interval_s
    y = np.r_[np.full(n_base, base), np.full(n_follow, follow)]
    phase = np.r_[np.zeros(n_base, int), np.full(n_follow, 2)]
    return t, y, np.zeros(t.size, np.int64), phase


def test_percent_of_baseline_and_last_10_min():
    t, y, f, ph = _series()
    r = R.pathway_result(0, t, y, f, ph, 0, float(t[-1]))
    assert r.baseline_mean == pytest.approx(-0.2) and r.n_baseline == 10
    assert r.magnitude_percent == pytest.approx(150.0)
    assert r.n_used == 21 and r.n_excluded == 0  # [end − 600 s, end] at 30 s
    np.testing.assert_allclose(r.percent[:10], 100.0)
    assert r.reason == ""


def test_invalid_flags_are_counted_and_never_used_warnings_are_kept():
    t, y, f, ph = _series()
    y = y.copy()
    f[0], y[0] = D.SATURATED, -5.0  # a clipped baseline sweep with a finite (wrong) slope
    f[-1], y[-1] = D.WINDOW_OUTSIDE, -9.0
    f[-2] = D.NO_RESPONSE | D.NO_VOLLEY | D.POP_SPIKE_IN_SLOPE  # warnings: the slope counts
    r = R.pathway_result(0, t, y, f, ph, 0, float(t[-1]))
    assert r.baseline_mean == pytest.approx(-0.2)
    assert (r.n_baseline, r.n_baseline_excluded, r.n_used, r.n_excluded) == (9, 1, 20, 1)
    assert r.magnitude_percent == pytest.approx(150.0)
    assert len(r.percent) == t.size - 2
    assert R.INVALID_FLAGS == int(D.SATURATED | D.WINDOW_OUTSIDE | D.NONFINITE | D.NOT_FEPSP | D.NO_STIMULUS)


def test_reference_baseline_is_the_last_before_the_first_induction():
    assert R.reference_baseline_phase([(0, "io_curve"), (1, "baseline"), (2, "drug"), (3, "baseline"),
                                       (4, "induction"), (5, "baseline")]) == 3
    assert R.reference_baseline_phase([(0, "baseline"), (1, "chemical"), (2, "follow_up")]) == 0
    assert R.reference_baseline_phase([(0, "baseline"), (1, "follow_up"), (2, "baseline")]) == 2
    assert R.reference_baseline_phase([(0, "io_curve")]) is None


def test_no_result_says_why():
    t, y, f, ph = _series()
    assert R.pathway_result(0, t, y, f, ph, None, t[-1]).reason == "no baseline phase"
    f[:10] = D.NONFINITE
    r = R.pathway_result(0, t, y, f, ph, 0, t[-1])
    assert r.magnitude_percent is None and r.reason == "no valid baseline sweeps (10 invalid)"
    t, y, f, ph = _series(n_follow=0)
    r = R.pathway_result(0, t, y, f, ph, 0, t[-1])
    assert r.magnitude_percent is None and "last 10 min" in r.reason


def test_settings_baseline_minutes_window_and_averaging():
    t, y, f, ph = _series()
    y = y.copy()
    y[:5] = -0.1  # the first half of the baseline is smaller
    whole = R.pathway_result(0, t, y, f, ph, 0, t[-1])
    last = R.pathway_result(0, t, y, f, ph, 0, t[-1], R.Settings(baseline_min=2.5), baseline_end_s=300.0)
    assert whole.baseline_mean == pytest.approx(-0.15) and last.baseline_mean == pytest.approx(-0.2)
    assert last.n_baseline == 5
    w5 = R.pathway_result(0, t, y, f, ph, 0, t[-1], R.Settings(window_min=5.0))
    assert w5.n_used == 11
    avg = R.pathway_result(0, t, y, f, ph, 0, t[-1], R.Settings(average_n=4))
    assert len(avg.percent) == 13 and avg.t_min[0] == pytest.approx(45.0 / 60)
    assert avg.magnitude_percent == whole.magnitude_percent  # the magnitude uses single sweeps
    for bad in ({"window_min": 0}, {"baseline_min": -1.0}, {"average_n": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            R.Settings(**bad)


def test_results_imports_nothing_above_the_detector():
    src = Path(R.__file__).read_text()
    mods = {n.module for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom) and n.module}
    mods |= {a.name for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Import) for a in n.names}
    rig_mods = {m for m in mods if m.startswith("rig")}
    assert all(m.startswith(("rig.core", "rig.detector")) for m in rig_mods), rig_mods
