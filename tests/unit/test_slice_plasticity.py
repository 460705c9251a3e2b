"""Virtual slice: long-term plasticity and mGluR5 pharmacology, measured from the waveform with
the pipeline's detector (model level: the model is driven directly, not through the engine)."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.pharmacology import Bath
from drivers.sim.slice import make_slice
from tests.slice_helpers import drive, periodic, slopes, tbs

FS = 10000.0
BASE = 20 * 60.0


def pct(model, pulses, valve_events=(), n_el=1, t_ind=BASE, ind_end=BASE, at_min=60.0):
    """Per pathway: slope in the 10 min before ``at_min`` after induction, % of baseline."""
    total = ind_end + at_min * 60.0 + 1.0
    onsets, tr = drive(model, FS, total, pulses, valve_events)
    s = slopes(tr, FS)
    t = onsets / FS
    test = np.array([abs(p[0] - round(p[0])) < 1e-9 for p in pulses])  # test pulses on whole s
    out = []
    for el in range(n_el):
        which = test & np.array([p[1] == el for p in pulses])
        base = s[which & (t < t_ind)].mean()
        late = s[which & (t > ind_end + (at_min - 10) * 60.0) & (t <= ind_end + at_min * 60.0)]
        out.append(100.0 * late.mean() / base)
    return out


def _exp(seed, induction=(), genotype="WT", valves=(), valve_events=(), bath=None, n_el=1,
         follow=60.0, **kw):
    m = make_slice(FS, n_el, seed, genotype=genotype, valves=valves, bath=bath, **kw)
    i = [m.intensity_for(0.4, e) for e in range(n_el)]
    ind = [(t, e, i[e]) for t, e, _ in induction]
    end = max([t for t, _, _ in ind], default=BASE)
    test = []
    for e in range(n_el):  # alternate pathways, one test every 20 s per pathway
        test += periodic(e * 10.0, BASE, e, i[e]) + periodic(np.ceil(end) + 20 + e * 10.0,
                                                          end + follow * 60 + 1, e, i[e])
    pulses = sorted(test + ind)
    return pct(m, pulses, valve_events, n_el, ind_end=np.ceil(end) + 20, at_min=follow)


def test_test_pulses_alone_stay_stable():
    vals = [_exp(s, follow=70.0)[0] for s in (1, 2)]
    assert all(88.0 <= v <= 110.0 for v in vals), vals


def test_tbs_potentiates_and_is_input_specific():
    s1, s2 = [], []
    for seed in (1, 2, 3):
        a, b = _exp(seed, tbs(BASE, 3), n_el=2)
        s1.append(a)
        s2.append(b)
    assert np.mean(s1) > 130.0, s1
    assert all(88.0 <= v <= 112.0 for v in s2), s2


def test_lfs_depresses():
    lfs = [(BASE + k + 0.5, 0, 0.0) for k in range(900)]
    vals = [_exp(s, lfs)[0] for s in (1, 2, 3)]
    assert np.mean(vals) < 92.0, vals


def test_anisomycin_blocks_the_late_phase():
    ctrl = _exp(4, tbs(BASE, 3))[0]
    aniso = _exp(4, tbs(BASE, 3), bath={"anisomycin": 25.0})[0]
    assert aniso < ctrl - 10.0


@pytest.mark.parametrize("genotype", ["WT", "Fmr1-KO", "mGluR5-KO"])
def test_dhpg_ltd_by_genotype(genotype):
    valves = ((0, "DHPG", 100.0),)
    ev = ((BASE, 0, 1), (BASE + 300.0, 0, 0))
    vals = [_exp(s, valves=valves, valve_events=ev, genotype=genotype)[0] for s in (1, 2, 3, 4)]
    test_dhpg_ltd_by_genotype.results[genotype] = np.mean(vals)
    if genotype == "mGluR5-KO":
        assert 93.0 <= np.mean(vals) <= 107.0, vals
    else:
        assert np.mean(vals) < 94.0, vals
    if genotype == "Fmr1-KO":
        assert np.mean(vals) < test_dhpg_ltd_by_genotype.results.get("WT", 200.0)


test_dhpg_ltd_by_genotype.results = {}


def test_saturating_nam_blocks_dhpg_ltd():
    valves = ((0, "DHPG", 100.0),)
    ev = ((BASE, 0, 1), (BASE + 300.0, 0, 0))
    vals = [_exp(s, valves=valves, valve_events=ev, bath={"MPEP": 40.0})[0] for s in (1, 2)]
    assert all(93.0 <= v <= 107.0 for v in vals), vals


def _bound_after(drug: str, conc_uM: float, on_s: float, off_s: float) -> tuple[float, float]:
    b = Bath(valves=[(2, drug, conc_uM)])
    b.set_line(2, 1)
    for _ in range(int(on_s)):
        b.advance(1.0)
    peak = b.bound[b.drugs[next(iter(b.drugs))].name]
    b.set_line(2, 0)
    for _ in range(int(off_s)):
        b.advance(1.0)
    return peak, b.nam_block()


def test_nam_kinetics_basimglurant_stays_mpep_washes_out():
    peak, after = _bound_after("basimglurant", 0.1, 40 * 60, 60 * 60)
    assert peak > 0.9
    assert after > 0.8 * peak  # residence time > 400 min: no washout within an experiment
    peak, after = _bound_after("MPEP", 10.0, 20 * 60, 60 * 60)
    assert peak > 0.99
    assert after < 0.1  # MPEP unbinds within minutes once the bath is clear


def test_nam_concentration_response_and_preincubation():
    fr = [Bath(bath={"basimglurant": c}).nam_block() for c in (1e-4, 1e-3, 1e-2, 1e-1)]
    assert all(a < b for a, b in zip(fr, fr[1:], strict=False))
    assert 0.3 < Bath(bath={"basimglurant": 0.0011}).nam_block() < 0.7  # K_d ≈ 1 nM
    assert 0.3 < Bath(bath={"MPEP": 0.036}).nam_block() < 0.7  # IC50 36 nM
    with pytest.raises(ValueError):
        Bath(bath={"unobtainium": 1.0})
