"""The protocol language: each phase kind expands into the plan data the engine, controller and
closed loop read; every semantic problem is reported at the field that causes it."""

from __future__ import annotations

import pytest

from rig.core.plan import Plan
from rig.protocol.load import expand, parse_protocol
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import load_rig, parse_rig

HEAD = """
[experiment]
name = "t"

[stimulation]
pathways = {pathways}
intensity_uA = {intensity}
width_us = 100.0
"""
FS = 20_000


def build(phases: str, pathways: str = '["S1"]', intensity: str = "[100.0]", extra: str = "",
          rig_text: str | None = None) -> Plan:
    text = HEAD.format(pathways=pathways, intensity=intensity) + extra + phases
    rig = parse_rig(rig_text, "rig.toml") if rig_text else load_rig(None)[0]
    return expand(parse_protocol(text, "p.toml"), rig)


def problems(phases: str, **kw) -> list[dict]:
    with pytest.raises(InvalidFile) as exc:
        build(phases, **kw)
    return exc.value.errors


def test_io_curve_with_rule_then_gated_baseline():
    plan = build("""
[[phases]]
kind = "io_curve"
intensities_uA = [50.0, 100.0, 200.0]
repeats = 2
interval_s = 5.0
set_intensity = {rule = "percent_of_max", percent = 40}

[[phases]]
kind = "baseline"
duration_min = 20
max_duration_min = 40
stability = {max_drift_percent_per_10min = 5, max_halves_diff_percent = 10, window_min = 20}
on_unstable = "abort"
""")
    io, base = plan.phases
    assert io.info == {"intensities_uA": [50.0, 100.0, 200.0], "repeats": 2, "pathways": [0],
                       "rule": "percent_of_max", "percent": 40.0}
    assert [s.intensity_uA for s in io.stimuli] == [50.0, 50.0, 100.0, 100.0, 200.0, 200.0]
    assert base.gated and base.max_duration_samples == 40 * 60 * FS and base.duration_samples == 20 * 60 * FS
    assert base.info == {"stability": {"max_drift_percent_per_10min": 5.0, "max_halves_diff_percent": 10.0,
                                       "window_min": 20.0}, "on_unstable": "abort"}


def test_below_pop_spike_rule_and_range_form():
    plan = build("""
[[phases]]
kind = "io_curve"
start_uA = 20
stop_uA = 100
step_uA = 20
repeats = 1
set_intensity = {rule = "below_pop_spike", margin_percent = 15}
""", pathways='["S1", "S2"]', intensity="[100.0, 80.0]")
    io = plan.phases[0]
    assert io.info["rule"] == "below_pop_spike" and io.info["margin_percent"] == 15.0
    assert [(s.intensity_uA, s.pathway) for s in io.stimuli[:4]] == [(20, 0), (20, 1), (40, 0), (40, 1)]
    assert plan.test_intensity_uA == (100.0, 80.0)


def test_drug_washout_and_chemical_valves():
    plan = build("""
[[phases]]
kind = "drug"
drug = "MPEP"
concentration_uM = 10
wash_in_min = 2
valve = "drug_B"

[[phases]]
kind = "washout"
drug = "MPEP"
duration_min = 3

[[phases]]
kind = "chemical"
drug = "DHPG"
concentration_uM = 50
duration_min = 1
valve = "drug_C"

[[phases]]
kind = "drug"
drug = "basimglurant"
concentration_uM = 0.01
wash_in_min = 1
""")
    drug, wash, chem, manual = plan.phases
    assert [(v.sample, v.line, v.state) for v in drug.valves] == [(0, 1, 1)]
    assert [(v.sample, v.line, v.state) for v in wash.valves] == [(0, 1, 0)]
    assert wash.info["drugs"] == [{"drug": "MPEP", "concentration_uM": 10.0, "valve": "drug_B", "valve_line": 1}]
    assert [(v.sample, v.line, v.state) for v in chem.valves] == [(0, 2, 1), (60 * FS - 1, 2, 0)]
    assert manual.valves == () and manual.info["valve_line"] is None and manual.info["drug"] == "basimglurant"
    assert all(p.test is not None for p in plan.phases)  # test pulses continue


def test_alarms_metadata_and_biphasic_reach_the_plan():
    plan = build("""
[[phases]]
kind = "follow_up"
duration_min = 1
""", extra="""
biphasic = true

[metadata]
animal_id = "m12"
genotype = "Fmr1-KO"
sex = "F"
age_days = 42

[alarms]
response_lost_percent = 30
response_lost_sweeps = 5
response_lost_action = "stop"
noise_max_uV = 80
""")
    assert plan.biphasic
    assert plan.closed_loop == {"alarms": {"response_lost_percent": 30.0, "response_lost_sweeps": 5,
                                           "response_lost_action": "stop", "noise_max_uV": 80.0,
                                           "noise_action": "continue", "volley_change_percent": None,
                                           "volley_action": "continue", "gain_change_action": "continue",
                                           "stimulus_mismatch_action": "pause", "stimulus_missed_action": "stop"}}
    assert plan.metadata["genotype"] == "Fmr1-KO" and plan.metadata["age_days"] == 42
    assert build('[[phases]]\nkind = "follow_up"\nduration_min = 1\n').closed_loop == {}


def test_burst_hz_equals_burst_interval_and_induction_on_s2():
    a = build("""
[[phases]]
kind = "induction"
pattern = "train"
pathway = "S2"
pulses_per_burst = 5
intra_burst_hz = 100
bursts = 4
burst_hz = 5
trains = 2
train_interval_s = 20
intensity_uA = 150
""", pathways='["S1", "S2"]')
    st = a.phases[0].stimuli
    assert len(st) == 2 and all(s.pathway == 1 and s.intensity_uA == 150 for s in st)
    assert st[0].pulse_offsets[5] == 4000 and st[1].sample - st[0].sample == 20 * FS


@pytest.mark.parametrize("phases, path, words", [
    ('[[phases]]\nkind = "io_curve"\nintensities_uA = [10]\ninterval_s = 0.08\n', "phases[0].interval_s", "sweep"),
    ('[[phases]]\nkind = "induction"\npattern = "hfs"\npathway = "S1"\npulses = 100\nfrequency_hz = 250\ntrains = 1\n',
     "phases[0].frequency_hz", "250 Hz exceeds"),
    ('[[phases]]\nkind = "induction"\npattern = "hfs"\npathway = "S1"\npulses = 600\nfrequency_hz = 100\ntrains = 1\n',
     "phases[0].pulses", "train of 5.99 s"),
    ('[[phases]]\nkind = "induction"\npattern = "hfs"\npathway = "S1"\npulses = 100\nfrequency_hz = 100\ntrains = 2\n'
     'train_interval_s = 1.0\n', "phases[0].train_interval_s", "trains overlap"),
    ('[[phases]]\nkind = "induction"\npattern = "tbs"\npathway = "S1"\npulses_per_burst = 4\nintra_burst_hz = 100\n'
     'bursts = 10\nburst_interval_ms = 20\ntrains = 1\n', "phases[0].burst_interval_ms", "bursts overlap"),
    ('[[phases]]\nkind = "induction"\npattern = "lfs"\npathway = "S1"\npulses = 900\nfrequency_hz = 20\n',
     "phases[0].frequency_hz", "not longer than its sweep"),
    ('[[phases]]\nkind = "induction"\npattern = "lfs"\npathway = "S1"\npulses = 9\nfrequency_hz = 1\n'
     'intensity_uA = 2000\n', "phases[0].intensity_uA", "800"),
    ('[[phases]]\nkind = "induction"\npattern = "lfs"\npathway = "S2"\npulses = 9\nfrequency_hz = 1\n',
     "phases[0].pathway", "not in stimulation.pathways"),
    ('[[phases]]\nkind = "drug"\ndrug = "MPEP"\nconcentration_uM = 1\nwash_in_min = 1\nvalve = "drug_Z"\n',
     "phases[0].valve", "drug_A, drug_B, drug_C"),
    ('[[phases]]\nkind = "washout"\ndrug = "MPEP"\nduration_min = 1\n', "phases[0].drug", "not on"),
    ('[[phases]]\nkind = "drug"\ndrug = "MPEP"\nconcentration_uM = 1\nwash_in_min = 1\nvalve = "drug_A"\n'
     '[[phases]]\nkind = "drug"\ndrug = "DHPG"\nconcentration_uM = 1\nwash_in_min = 1\nvalve = "drug_A"\n',
     "phases[1].valve", "still carries MPEP"),
    ('[[phases]]\nkind = "paired_pulse"\nintervals_ms = [2.0]\n', "phases[0].intervals_ms[0]", "500 Hz"),
    ('[[phases]]\nkind = "io_curve"\nintensities_uA = [100, 900]\n', "phases[0].intensities_uA[1]", "800"),
])
def test_semantic_problems_name_the_field(phases, path, words):
    errs = problems(phases)
    assert any(e["path"] == path and words in e["message"] for e in errs), errs


@pytest.mark.parametrize("phases, path, words", [
    ('[[phases]]\nkind = "baseline"\nduration_min = 0\n', "phases[0].duration_min", "greater than 0"),
    ('[[phases]]\nkind = "baseline"\nduration_min = 10\nmax_duration_min = 5\n', "phases[0]", "≥ duration_min"),
    ('[[phases]]\nkind = "basline"\nduration_min = 10\n', "phases[0].kind", "'basline' is not allowed"),
    ('[[phases]]\nduration_min = 10\n', "phases[0].kind", "missing"),
    ('[[phases]]\nkind = "induction"\npattern = "tbs"\npathway = "S1"\n', "phases[0].pulses_per_burst", "missing"),
    ('[[phases]]\nkind = "induction"\npattern = "theta"\n', "phases[0].pattern", "'theta' is not allowed"),
    ('[[phases]]\nkind = "io_curve"\nstart_uA = 10\n', "phases[0]", "give intensities_uA, or all of"),
    ('[[phases]]\nkind = "io_curve"\nintensities_uA = [10]\nset_intensity = {rule = "half"}\n',
     "phases[0].set_intensity.rule", "'half' is not allowed"),
    ('[[phases]]\nkind = "follow_up"\nduration_min = inf\n', "phases[0].duration_min", "finite"),
    ('[[phases]]\nkind = "follow_up"\nduration_min = "ten"\n', "phases[0].duration_min", "'ten'"),
])
def test_structural_problems_name_the_field(phases, path, words):
    with pytest.raises(InvalidFile) as exc:
        parse_protocol(HEAD.format(pathways='["S1"]', intensity="[100.0]") + phases, "p.toml")
    errs = exc.value.errors
    assert any(e["path"] == path and words in e["message"] for e in errs), errs
    assert all(e["line"] is not None for e in errs)


def test_line_numbers_point_at_the_bad_key():
    text = HEAD.format(pathways='["S1"]', intensity="[100.0]") + (
        '\n[[phases]]\nkind = "baseline"\nduration_min = 10\n\n[[phases]]\nkind = "follow_up"\n'
        'duration_min = -2\ninterval_s = 20\n')
    with pytest.raises(InvalidFile) as exc:
        parse_protocol(text, "p.toml")
    (line,) = exc.value.lines()
    n = text.splitlines().index("duration_min = -2") + 1
    assert line.startswith(f"p.toml:{n}: phases[1].duration_min: ") and "-2" in line


def test_width_must_be_whole_samples_at_the_rigs_rate():
    rig_text = load_rig(None)[1].replace("sample_rate_hz = 20000.0", "sample_rate_hz = 8000.0")
    errs = problems('[[phases]]\nkind = "follow_up"\nduration_min = 1\n', rig_text=rig_text)
    assert [e["path"] for e in errs] == ["stimulation.width_us"]
    assert "not a whole number of samples at 8000 Hz" in errs[0]["message"] and "125 µs" in errs[0]["message"]


def test_a_last_test_pulse_too_close_to_the_next_phase():
    # test pulses every 0.5 s from 0.25 s: one at 3.75 s, on the last sample of a 3.75005 s phase;
    # the next phase's first pulse comes 1 ms (sweep_pre_ms) after the phase end: 1.05 ms apart
    phases = """
[[phases]]
kind = "baseline"
duration_min = 0.0625008333
interval_s = 0.5

[[phases]]
kind = "induction"
pattern = "lfs"
pathway = "S1"
pulses = 5
frequency_hz = 1
"""
    text = HEAD.format(pathways='["S1"]', intensity="[100.0]") + "sweep_pre_ms = 1\nsweep_post_ms = 5\n" + phases
    with pytest.raises(InvalidFile) as exc:
        expand(parse_protocol(text, "p.toml"), load_rig(None)[0])
    (err,) = exc.value.errors
    assert err["path"] == "phases[0]" and "before the first pulse of phases[1]" in err["message"]
