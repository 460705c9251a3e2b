"""The rig file: wiring, valves, TTL lines, limits and the simulated slice, strictly checked."""

from __future__ import annotations

import pytest

from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import load_rig, parse_rig

DEFAULT = load_rig(None)[1]


def test_default_sim_rig():
    rig, text = load_rig(None)
    assert rig.backend == "sim" and rig.sample_rate_hz == 20_000
    assert rig.pathway_names() == ["S1", "S2"]
    assert rig.valve_names() == ["drug_A", "drug_B", "drug_C"] and rig.valve_index("drug_B") == 1
    assert rig.do_lines == ["port0/line0", "port0/line1", "port0/line2"]
    assert rig.ao_channels() == ["ao0", "ao1"] and rig.ao_uA_per_V() == [100.0, 100.0]
    assert rig.ai[0].terminal == "differential" and rig.ai[0].gain == 1000
    assert rig.sim.model == "realistic" and rig.sim.electrode == "concentric" and rig.sim.genotype is None
    wiring = rig.output_map()
    assert wiring.n_ao == 2 and wiring.n_do == 3 and wiring.trigger_line_for_pathway == (None, None)
    lim = rig.stim_limits()
    assert (lim.max_intensity_uA, lim.max_width_us, lim.max_frequency_hz, lim.max_train_s, lim.max_charge_uC) == (
        800, 500, 200, 5, 0.25)


@pytest.mark.parametrize("old, new, path, words", [
    ('backend = "sim"', 'backend = "labview"', "backend", "'labview'"),
    ("sample_rate_hz = 20000.0", "sample_rate_hz = 500.0", "sample_rate_hz", "greater than or equal to 1000"),
    ("max_intensity_uA = 800.0", "max_intensity_uA = -1", "limits.max_intensity_uA", "greater than 0"),
    ("max_charge_uC = 0.25", "max_charge_uC = nan", "limits.max_charge_uC", "finite"),
    ('terminal = "differential"', 'terminal = "diff"', "ai[0].terminal", "'diff'"),
    ("gain = 1000.0", "gain = 1000.0\ngian = 10", "ai[0].gian", "unknown key"),
    ('ao = "ao1"\n', "", "stim[1]", "needs 'ao'"),
    ('pathway = "S2"', 'pathway = "S1"', "<file>", "stim pathway used twice: S1"),
    ('line = "port0/line1"', 'line = "port0/line0"', "<file>", "DO line used twice"),
    ('electrode = "concentric"', 'electrode = "glass"', "sim.electrode", "'glass'"),
])
def test_rig_file_problems_name_the_field(old, new, path, words):
    assert old in DEFAULT
    with pytest.raises(InvalidFile) as exc:
        parse_rig(DEFAULT.replace(old, new, 1), "rig.toml")
    errs = exc.value.errors
    assert any((e["path"] or "<file>") == path and words in e["message"] for e in errs), errs


def test_rig_line_numbers():
    bad = DEFAULT.replace("max_width_us = 500.0", "max_width_us = 0")
    with pytest.raises(InvalidFile) as exc:
        parse_rig(bad, "r.toml")
    n = bad.splitlines().index("max_width_us = 0") + 1
    assert exc.value.lines() == [f"r.toml:{n}: limits.max_width_us: Input should be greater than 0 (got 0)"]


def test_second_ai_section_line():
    bad = DEFAULT.replace('[[stim]]\npathway = "S1"',
                          '[[ai]]\nname = "ic"\nchannel = "ai1"\nrange_V = 20\n\n[[stim]]\npathway = "S1"', 1)
    with pytest.raises(InvalidFile) as exc:
        parse_rig(bad, "r.toml")
    (line,) = exc.value.lines()
    assert line.startswith(f"r.toml:{bad.splitlines().index('range_V = 20') + 1}: ai[1].range_V: ")


def test_unreadable_and_binary_rig_files(tmp_path):
    p = tmp_path / "rig.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(Exception, match="not UTF-8"):
        load_rig(p)
    with pytest.raises(Exception, match="cannot read rig file"):
        load_rig(tmp_path / "none.toml")
