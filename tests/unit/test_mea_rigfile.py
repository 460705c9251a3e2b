"""The rig file's ``[mea]`` table: validated strictly, one line per problem naming file, field and
range; it becomes one field input per electrode, the field electrode first."""

from __future__ import annotations

import pytest

from rig.cli import main
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import load_rig, parse_rig

MEA = """
backend = "sim"
sample_rate_hz = 20000.0

[mea]
rows = 8
cols = 8
pitch_um = 200.0
channels = "ai0:63"
gain = 1000.0
field_electrode = 29
stim_electrodes = {{ S1 = 20 }}
{extra}

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0
{tail}
"""


def rig_text(extra: str = "", tail: str = "", **replace: str) -> str:
    text = MEA.format(extra=extra, tail=tail)
    for k, v in replace.items():
        text = "\n".join(f"{k} = {v}" if ln.startswith(f"{k} =") else ln for ln in text.splitlines())
    return text


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidFile) as exc:
        parse_rig(text, "mea.toml")
    return exc.value.lines()


def test_the_shipped_mea_rig_has_64_electrodes_field_first():
    rig, _ = load_rig("rigs/mea64.toml")
    lay = rig.mea_layout()
    assert len(rig.ai) == 64 and all(a.kind == "field" and a.gain == 1000.0 for a in rig.ai)
    assert [a.name for a in rig.ai[:3]] == ["E29", "E1", "E2"] and rig.ai[0].channel == "ai28"
    assert lay.electrodes[0] == lay.field_electrode == 29 and sorted(lay.electrodes) == list(range(1, 65))
    assert lay.stim_electrodes == {0: 20} and lay.position(20) == (2, 3) and lay.xy_um(20) == (600.0, 400.0)
    assert [lay.channels[lay.column(e)] for e in (1, 29, 64)] == ["ai0", "ai28", "ai63"]
    assert rig.scale_gains() == [1000.0] * 64


def test_a_60_electrode_array_without_its_corners_and_a_listed_channel_order():
    chans = ", ".join(f'"ai{k}"' for k in reversed(range(60)))
    rig = parse_rig(rig_text(extra="missing = [1, 8, 57, 64]", channels=f"[{chans}]"), "mea.toml")
    lay = rig.mea_layout()
    assert lay.n == 60 and 1 not in lay.electrodes and 64 not in lay.electrodes
    assert lay.channels[lay.column(2)] == "ai59"  # electrode 2 is the first electrode: the list's first channel
    assert len(rig.ai) == 60


def test_a_current_monitor_comes_after_the_electrodes():
    mon = '[[ai]]\nname = "mon"\nchannel = "ai64"\nkind = "monitor"\npathway = "S1"\nmonitor_uA_per_V = 100.0'
    rig = parse_rig(rig_text(tail=mon), "mea.toml")
    assert len(rig.ai) == 65 and rig.ai[-1].kind == "monitor" and rig.wiring_checks().monitors[0].channel == 64


@pytest.mark.parametrize("change, where, says", [
    ({"field_electrode": "65"}, "mea", "field_electrode = 65: no such electrode (1–64)"),
    ({"field_electrode": "20"}, "mea", "that electrode stimulates"),
    ({"channels": '"ai0:62"'}, "mea", "63 AI channels for 64 electrodes"),
    ({"channels": '"ai5:2"'}, "mea", "the range must ascend"),
    ({"rows": "9"}, "mea", "72 electrodes"),
    ({"rows": "0"}, "mea.rows", "greater than or equal to 1"),
    ({"pitch_um": "-5.0"}, "mea.pitch_um", "greater than 0"),
    ({"gain": '"1000"'}, "mea.gain", "valid number"),
    ({"stim_electrodes": "{ S2 = 20 }"}, "", "'S2' is not a [[stim]] pathway"),
    ({"stim_electrodes": "{ S1 = 99 }"}, "mea", "stim_electrodes.S1 = 99: no such electrode"),
])
def test_bad_mea_tables_are_one_line_naming_file_and_field(change, where, says):
    lines = problems(rig_text(**change))
    assert len(lines) == 1, lines
    assert lines[0].startswith("mea.toml:") and says in lines[0], lines[0]
    if where:
        assert f": {where}" in lines[0], lines[0]


def test_mea_cannot_be_combined_with_sites_or_another_field_input():
    field = '[[ai]]\nname = "f"\nchannel = "ai64"\ngain = 1000.0'
    (line,) = problems(rig_text(tail=field))
    assert "only be isolator current monitors" in line and "'f'" in line
    site = '[[site]]\nname = "A"\nai = "E29"\nstim = ["S1"]'
    (line,) = problems(rig_text(tail=site))
    assert "[mea] and [[site]] cannot be combined" in line
    dup = '[[ai]]\nname = "mon"\nchannel = "ai3"\nkind = "monitor"\npathway = "S1"\nmonitor_uA_per_V = 100.0'
    (line,) = problems(rig_text(tail=dup))
    assert "AI channel used twice: ai3" in line


def test_a_rig_without_inputs_says_what_it_needs():
    (line,) = problems('backend = "sim"\n[[stim]]\npathway = "S1"\nao = "ao0"\n')
    assert "at least one [[ai]]" in line and "[mea]" in line


def test_rig_check_refuses_a_bad_mea_table_with_exit_2(tmp_path, capsys):
    rig = tmp_path / "mea.toml"
    rig.write_text(rig_text(field_electrode="0"))
    rc = main(["check", "--rig", str(rig), "protocols/tbs_ltp.toml"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "mea.field_electrode" in err[0] and str(rig) in err[0]


def test_rig_schema_describes_the_shipped_mea_rig(capsys):
    import json
    import tomllib

    import jsonschema

    assert main(["schema", "rig"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.validate(tomllib.loads(open("rigs/mea64.toml", encoding="utf-8").read()), schema)
    bad = tomllib.loads(open("rigs/mea64.toml", encoding="utf-8").read())
    bad["mea"]["field_electrod"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_rig_check_names_the_array(capsys):
    assert main(["check", "--rig", "rigs/mea64.toml", "protocols/mea_tbs_ltp.toml"]) == 0
    out = capsys.readouterr().out
    assert "MEA: 64 electrodes (8×8, 200 µm), field electrode 29, stimulating S1 → 20" in out
