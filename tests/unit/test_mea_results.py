"""The MEA result: which electrodes respond, which potentiated, and the fraction — on top of the one
% of baseline (rig.analysis.results.pathway_result) of each electrode."""

from __future__ import annotations

import numpy as np
import pytest

from rig.analysis import results
from rig.analysis.mea_results import DEFAULT_SETTINGS, MapSettings, classify, fraction

RNG = np.random.default_rng(0)
T = np.arange(80) * 15.0  # 20 min: 40 baseline sweeps (phase 0), 40 after the induction (phase 2)
PHASE = np.where(np.arange(80) < 40, 0, 2)


def _result(mean: float, cv: float, after: float = 1.0):
    y = mean * (1 + cv * RNG.standard_normal(80))
    y[40:] *= after
    return results.pathway_result(0, T, y, np.zeros(80, int), PHASE, 0, float(T[-1]))


def _electrode(slope=-0.2, cv=0.1, after=1.5, amp=-0.4, noise=0.015, role="recording", settings=DEFAULT_SETTINGS):
    return classify(5, role, _result(slope, cv, after), _result(amp, 0.05), _result(noise, 0.05), settings)


def test_a_clear_response_that_grew_half_again_is_responding_and_potentiated():
    r = _electrode()
    assert r.responding and r.why == "" and r.potentiated and not r.depressed
    assert r.percent == pytest.approx(150, abs=10) and r.baseline_cv == pytest.approx(0.1, abs=0.05)
    d = r.to_dict()
    assert d["responding"] and d["ltp_percent"] == r.percent and d["baseline_sweeps"] == 40


@pytest.mark.parametrize("kw, why", [
    ({"role": "stimulating"}, "stimulating electrode"),
    ({"cv": 0.9}, "baseline slope CV above 0.5"),
    ({"slope": 0.05, "cv": 0.1}, "baseline slope not negative"),
    ({"amp": -0.03}, "fEPSP amplitude below 4 × noise"),
    ({"amp": 0.2}, "no negative fEPSP amplitude"),
])
def test_what_makes_an_electrode_not_respond(kw, why):
    r = _electrode(**kw)
    assert not r.responding and r.why == why and not r.potentiated and not r.depressed


def test_no_valid_baseline_is_not_responding_with_the_result_s_reason():
    bad = np.full(80, int(results.INVALID_FLAGS & 256))  # not an fEPSP: a reversed field
    s = results.pathway_result(0, T, np.full(80, -0.1), bad, PHASE, 0, float(T[-1]))
    r = classify(7, "recording", s, _result(-0.4, 0.05), _result(0.015, 0.05))
    assert not r.responding and r.why.startswith("no valid baseline sweeps")


def test_thresholds_are_settable_and_the_fraction_counts_responding_electrodes_with_a_result():
    rs = [_electrode(after=a) for a in (1.5, 1.3, 1.1, 0.7)] + [_electrode(cv=2.0), _electrode(role="stimulating")]
    f = fraction(rs)
    assert (f["n_electrodes"], f["responding"], f["potentiated"], f["depressed"]) == (6, 4, 2, 1)
    assert f["fraction_potentiated"] == pytest.approx(0.5) and f["fraction_depressed"] == pytest.approx(0.25)
    strict = MapSettings(potentiated_percent=140.0)
    f2 = fraction([_electrode(after=a, settings=strict) for a in (1.5, 1.3, 1.1, 0.7)], strict)
    assert f2["potentiated"] == 1 and f2["potentiated_percent"] == 140.0
    assert fraction([_electrode(cv=2.0)])["fraction_potentiated"] is None


@pytest.mark.parametrize("kw", [{"potentiated_percent": 0.0}, {"depressed_percent": float("nan")},
                                {"max_cv": -1.0}, {"method": "steepest"}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ValueError):
        MapSettings(**kw)
