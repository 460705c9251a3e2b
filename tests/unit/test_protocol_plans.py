"""Every shipped protocol expands into the plan its literature describes: exact pulse counts,
sample positions, pathways, valves and phase info (20 kHz default sim rig: 1 ms = 20 samples)."""

from __future__ import annotations

import numpy as np
import pytest

from rig.core.plan import Plan
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import load_rig
from tests.conftest import PROTOCOLS

SHIPPED = ["baseline_only", "io_curve", "paired_pulse", "hfs_ltp", "hfs4_ltp", "tbs_ltp", "tbs1_ltp", "lfs_ltd",
           "pp_lfs_ltd", "dhpg_ltd", "basimglurant_tbs", "basimglurant_lfs", "mpep_tbs", "two_pathway_tbs",
           "mglur5ko_hfs", "mpep_tbs_late", "mpep_lfs", "mpep_lfs_vehicle", "basimglurant_dhpg_fmr1", "tbs_ltp_ppr",
           "mea_tbs_ltp", "lfs_900_0p5hz", "lfs_900_3hz", "lfs_900_10hz", "lfs_900_50hz", "tbs_occlusion", "tbs_ltp_2h",
           "tbs_ltp_3h", "hfs2_ltp", "basimglurant_dhpg", "dhpg50_ltd", "lfs_ltd_2h", "anisomycin_tbs_3h"]
FS = 20_000
MS = FS // 1000


def plan_of(name: str) -> Plan:
    proto, _ = load_protocol(PROTOCOLS / f"{name}.toml")
    rig, _ = load_rig(None)
    return expand(proto, rig, name)


def phase(plan: Plan, kind: str, k: int = 0):
    return [p for p in plan.phases if p.kind == kind][k]


def absolute_pulses(plan: Plan) -> list[tuple[int, int]]:
    """(absolute sample, pathway) of every planned pulse, test pulses included."""
    out = []
    for p0, p in zip(plan.phase_starts(), plan.phases, strict=True):
        if p.test is not None:
            out += [(p0 + s, pw) for s, pw in p.test.pulse_times(0, p.duration_samples)]
        for s in p.stimuli:
            out += [(p0 + s.sample + o, s.pathway) for o in s.pulse_offsets]
    return sorted(out)


def test_every_issue_protocol_is_shipped():
    assert sorted(SHIPPED) == sorted(p.stem for p in PROTOCOLS.glob("*.toml") if not p.stem.startswith("auto_"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocol_is_sample_exact_and_sane(name):
    plan = plan_of(name)
    assert plan.sample_rate_hz == FS
    assert plan.pulse_width_samples == 2  # 100 µs
    pulses = absolute_pulses(plan)
    # pulses never overlap on one pathway, never exceed 200 Hz, and all fall inside their phases
    for pw in {p for _, p in pulses}:
        t = np.array([s for s, q in pulses if q == pw])
        assert np.all(np.diff(t) >= FS // 200)
    assert pulses[-1][0] < plan.duration_samples
    for p in plan.phases:
        for s in p.stimuli:
            a, b = s.sweep_bounds()
            assert 0 <= a and b <= p.duration_samples, (p.name, s.label)


def test_tbs_ltp_is_3_trains_of_10_bursts_of_4():
    plan = plan_of("tbs_ltp")
    assert [p.kind for p in plan.phases] == ["baseline", "induction", "follow_up"]
    base, tbs, follow = plan.phases
    assert base.duration_samples == 20 * 60 * FS and follow.duration_samples == 60 * 60 * FS
    assert len(base.test.pulse_times(0, base.duration_samples)) == 60  # one every 20 s
    assert base.test.interval_samples == 20 * FS
    assert len(tbs.stimuli) == 3 and tbs.info["pulses"] == 120
    offsets = np.array(tbs.stimuli[0].pulse_offsets)
    assert offsets.size == 40
    bursts = offsets.reshape(10, 4)
    assert np.all(np.diff(bursts, axis=1) == 10 * MS)  # 100 Hz within a burst
    assert np.all(np.diff(bursts[:, 0]) == 200 * MS)  # burst onsets 200 ms apart
    starts = [s.sample for s in tbs.stimuli]
    assert np.all(np.diff(starts) == 10 * FS)  # trains 10 s apart
    assert all(s.pathway == 0 and s.kind == "train" and s.intensity_uA is None for s in tbs.stimuli)
    assert len(absolute_pulses(plan)) == 60 + 120 + 180


def test_tbs1_ltp_is_one_train():
    tbs = phase(plan_of("tbs1_ltp"), "induction")
    assert len(tbs.stimuli) == 1 and tbs.info["pulses"] == 40


def test_hfs_is_100_pulses_at_100_hz():
    hfs = phase(plan_of("hfs_ltp"), "induction")
    assert len(hfs.stimuli) == 1
    assert np.all(np.diff(hfs.stimuli[0].pulse_offsets) == 10 * MS) and hfs.stimuli[0].n_pulses == 100


def test_hfs4_is_four_trains_20_s_apart():
    hfs = phase(plan_of("hfs4_ltp"), "induction")
    assert [s.n_pulses for s in hfs.stimuli] == [100] * 4
    assert np.all(np.diff([s.sample for s in hfs.stimuli]) == 20 * FS)
    assert hfs.info["pulses"] == 400


def test_lfs_is_900_single_pulse_sweeps_at_1_hz():
    plan = plan_of("lfs_ltd")
    lfs = phase(plan, "induction")
    assert len(lfs.stimuli) == 900 and all(s.pulse_offsets == (0,) for s in lfs.stimuli)
    assert np.all(np.diff([s.sample for s in lfs.stimuli]) == FS)
    # one short sweep per pulse keeps the engine's ring buffer small
    assert plan.max_sweep_samples() == plan.sweep_pre_samples + plan.sweep_post_samples
    assert lfs.duration_samples < 15 * 60 * FS + 5 * FS


def test_pp_lfs_is_900_pairs_50_ms_apart_at_1_hz():
    pp = phase(plan_of("pp_lfs_ltd"), "induction")
    assert len(pp.stimuli) == 900 and pp.info["pulses"] == 1800
    assert all(s.kind == "paired" and s.pulse_offsets == (0, 50 * MS) for s in pp.stimuli)
    assert np.all(np.diff([s.sample for s in pp.stimuli]) == FS)


def test_dhpg_opens_then_closes_its_valve_with_test_pulses_continuing():
    plan = plan_of("dhpg_ltd")
    chem = phase(plan, "chemical")
    assert chem.duration_samples == 5 * 60 * FS
    assert chem.info["drug"] == "DHPG" and chem.info["concentration_uM"] == 100.0 and chem.info["valve_line"] == 0
    assert [(v.sample, v.line, v.state) for v in chem.valves] == [(0, 0, 1), (5 * 60 * FS - 1, 0, 0)]
    assert len(chem.test.pulse_times(0, chem.duration_samples)) == 15


@pytest.mark.parametrize("name, drug, conc, induction_pulses",
                         [("basimglurant_tbs", "basimglurant", 0.1, 40), ("mpep_tbs", "MPEP", 40.0, 40),
                          ("basimglurant_lfs", "basimglurant", 0.1, 900)])
def test_drug_stays_on_from_wash_in_to_the_end(name, drug, conc, induction_pulses):
    plan = plan_of(name)
    assert [p.kind for p in plan.phases] == ["drug", "baseline", "induction", "follow_up"]
    d = plan.phases[0]
    assert d.info == {"drug": drug, "concentration_uM": conc, "valve": "drug_A", "valve_line": 0,
                      "wash_in_s": 1200.0}
    assert [(v.sample, v.line, v.state) for v in d.valves] == [(0, 0, 1)]
    assert all(not p.valves for p in plan.phases[1:])  # never closed: it stays on
    assert d.test is not None and len(d.test.pulse_times(0, d.duration_samples)) == 60
    assert plan.phases[2].info["pulses"] == induction_pulses
    assert plan.metadata["drug"] == drug


def test_two_pathway_tbs_alternates_and_induces_s1_only():
    plan = plan_of("two_pathway_tbs")
    assert plan.pathways == (0, 1) and plan.pathway_names == ("S1", "S2")
    base = plan.phases[0]
    times = base.test.pulse_times(0, base.duration_samples)
    assert [pw for _, pw in times[:4]] == [0, 1, 0, 1]
    assert np.all(np.diff([s for s, _ in times]) == 10 * FS)  # each pathway every 20 s
    assert {s.pathway for s in plan.phases[1].stimuli} == {0}
    counts = {0: 0, 1: 0}
    for _, pw in absolute_pulses(plan):
        counts[pw] += 1
    # baseline 120 + follow-up 360 test pulses split evenly, plus 120 TBS pulses on S1
    assert counts == {0: 60 + 120 + 180, 1: 60 + 180}


def test_io_curve_is_ascending_with_repeats():
    plan = plan_of("io_curve")
    io = plan.phases[0]
    levels = [s.intensity_uA for s in io.stimuli]
    assert levels == [uA for uA in np.arange(25.0, 401.0, 25.0) for _ in range(3)]
    assert all(s.kind == "io" for s in io.stimuli)
    assert np.all(np.diff([s.sample for s in io.stimuli]) == 10 * FS)
    assert "rule" not in io.info


def test_paired_pulse_intervals_and_repeats():
    pp = plan_of("paired_pulse").phases[0]
    isis = [s.pulse_offsets[1] for s in pp.stimuli]
    assert isis == [ms * MS for ms in (10, 20, 50, 100, 200, 500)] * 3
    assert np.all(np.diff([s.sample for s in pp.stimuli]) == 20 * FS)


def test_baseline_only_has_no_induction():
    plan = plan_of("baseline_only")
    assert all(not p.stimuli for p in plan.phases) and len(absolute_pulses(plan)) == 243


def test_induction_info_keeps_pattern_parameters_and_the_total():
    hfs = phase(plan_of("hfs4_ltp"), "induction")
    assert hfs.info["pulses"] == 400 and hfs.info["pulses_per_train"] == 100 and hfs.info["trains"] == 4
    assert hfs.info["protocol"] == "hfs" and hfs.info["pathway"] == 0 and hfs.info["frequency_hz"] == 100.0
    lfs = phase(plan_of("lfs_ltd"), "induction")
    assert lfs.info["protocol"] == "lfs" and lfs.info["pulses"] == 900 and lfs.info["frequency_hz"] == 1.0
