"""`rig check` and `rig schema` as the user sees them (in-process through rig.cli.main)."""

from __future__ import annotations

import json
import re
import tomllib

import jsonschema
import pytest

from rig.cli import main
from rig.protocol.rigfile import default_rig_text, load_rig
from tests.conftest import PROTOCOLS
from tests.unit.test_protocol_plans import SHIPPED


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_protocol_passes_check(name, capsys):
    code, out, err = run(capsys, "check", str(PROTOCOLS / f"{name}.toml"))
    assert code == 0, err
    assert ": valid, " in out.splitlines()[0]
    code, out, _ = run(capsys, "check", str(PROTOCOLS / f"{name}.toml"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and doc["errors"] == []
    for key in ("duration_s", "phases", "total_pulses", "max_intensity_uA"):
        assert key in doc
    assert doc["total_pulses"] == sum(p["pulses"] for p in doc["phases"])
    assert all({"name", "kind", "start_s", "end_s", "pulses"} <= set(p) for p in doc["phases"])
    assert doc["phases"][-1]["end_s"] == pytest.approx(doc["duration_s"])


def test_tbs_summary_numbers(capsys):
    code, out, _ = run(capsys, "check", str(PROTOCOLS / "tbs_ltp.toml"), "--json")
    doc = json.loads(out)
    base, tbs, follow = doc["phases"]
    assert (base["start_s"], base["end_s"], base["pulses"]) == (0.0, 1200.0, 60)
    assert tbs["pulses"] == 120 and tbs["pulses_per_pathway"] == {"S1": 120}
    assert [t["start_s"] for t in tbs["trains"]] == pytest.approx([1200.02, 1210.02, 1220.02])
    assert tbs["trains"][0]["end_s"] - tbs["trains"][0]["start_s"] == pytest.approx(1.8301)
    assert follow["pulses"] == 180 and doc["total_pulses"] == 360
    assert doc["max_intensity_uA"] == 150.0 and doc["max_charge_per_pulse_phase_uC"] == pytest.approx(0.015)
    assert tbs["total_charge_uC"] == pytest.approx(120 * 0.015)
    code, text, _ = run(capsys, "check", str(PROTOCOLS / "tbs_ltp.toml"))
    assert "tbs: 3 trains 10 s apart, each 10 bursts × 4 pulses @ 100 Hz, burst onsets 200 ms apart" in text


def test_two_pathway_counts_per_pathway(capsys):
    _, out, _ = run(capsys, "check", str(PROTOCOLS / "two_pathway_tbs.toml"), "--json")
    doc = json.loads(out)
    assert doc["pulses_per_pathway"] == {"S1": 360, "S2": 240}


def test_io_rule_bounds_the_reported_intensity(tmp_path, capsys):
    p = tmp_path / "auto.toml"
    p.write_text('[experiment]\nname = "a"\n[[phases]]\nkind = "io_curve"\nintensities_uA = [50, 300]\n'
                 'repeats = 1\nset_intensity = {rule = "percent_of_max", percent = 40}\n'
                 '[[phases]]\nkind = "baseline"\nduration_min = 10\nmax_duration_min = 30\n'
                 'stability = {window_min = 10}\non_unstable = "pause"\n')
    code, out, _ = run(capsys, "check", str(p), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["phases"][1]["max_intensity_uA"] == 300.0
    assert doc["phases"][1]["max_end_s"] == pytest.approx(doc["phases"][0]["end_s"] + 1800)
    assert doc["max_duration_s"] > doc["duration_s"]


def test_invalid_protocol_one_line_per_problem(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('[experiment]\nname = "x"\n\n[stimulation]\nintensity_uA = [1200.0]\nsweep_post_ms = 900\n'
                 '[[phases]]\nkind = "baseline"\nduration_min = 10\ninterval_s = 0.5\n\n'
                 '[[phases]]\nkind = "induction"\npattern = "hfs"\npathway = "S1"\npulses = 100\n'
                 'frequency_hz = 500\ntrains = 1\n')
    code, out, err = run(capsys, "check", str(p))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3, lines
    assert all(re.match(rf"{re.escape(str(p))}:\d+: [\w.\[\]]+: ", ln) for ln in lines)
    assert any(":5: stimulation.intensity_uA[0]: intensity 1200 µA exceeds the rig limit of 800 µA" in ln
               for ln in lines)
    assert any(":10: phases[0].interval_s: 0.5 s is not longer than a sweep (0.92 s" in ln for ln in lines)
    assert any(":17: phases[1].frequency_hz: pulse frequency 500 Hz exceeds the rig limit of 200 Hz" in ln
               for ln in lines)
    assert "Traceback" not in err
    code, out, err = run(capsys, "check", str(p), "--json")
    doc = json.loads(out)
    assert code == 2 and doc["valid"] is False and len(doc["errors"]) == 3
    assert {"path", "message"} <= set(doc["errors"][0])
    assert doc["errors"][0]["path"] == "stimulation.intensity_uA[0]"


def test_limits_come_from_the_rig_file(tmp_path, capsys):
    rig = tmp_path / "rig.toml"
    rig.write_text(load_rig(None)[1].replace("max_frequency_hz = 200.0", "max_frequency_hz = 50.0"))
    code, _, err = run(capsys, "check", str(PROTOCOLS / "tbs_ltp.toml"), "--rig", str(rig))
    assert code == 2
    assert "phases[1].intra_burst_hz: pulse frequency 100 Hz exceeds the rig limit of 50 Hz" in err


def test_both_files_bad_reports_both(tmp_path, capsys):
    rig = tmp_path / "rig.toml"
    rig.write_text(load_rig(None)[1].replace('backend = "sim"', 'backend = 3'))
    p = tmp_path / "p.toml"
    p.write_text('[experiment]\nname = 1\n[[phases]]\nkind = "baseline"\nduration_min = 1\n')
    code, _, err = run(capsys, "check", str(p), "--rig", str(rig))
    assert code == 2
    assert f"{p}:2: experiment.name:" in err and f"{rig}:" in err and "backend" in err


@pytest.mark.parametrize("content, words", [
    (b"", "empty protocol"),
    (b"\xff\xd8\xff\xe0 JFIF", "not UTF-8"),
    (b"[experiment\nname=", "not valid TOML"),
    (b"a = \x00", "NUL"),
])
def test_garbage_files(tmp_path, capsys, content, words):
    p = tmp_path / "g.toml"
    p.write_bytes(content)
    code, out, err = run(capsys, "check", str(p), "--json")
    assert code == 2 and words in err and json.loads(out)["valid"] is False
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("which, key", [("protocol", "phases"), ("rig", "stim")])
def test_schema(which, key, capsys):
    code, out, _ = run(capsys, "schema", which)
    s = json.loads(out)
    assert code == 0 and key in s["properties"] and s["additionalProperties"] is False
    assert s["$schema"].startswith("https://json-schema.org/")


def test_protocol_schema_lists_every_phase_kind_and_pattern(capsys):
    _, out, _ = run(capsys, "schema", "protocol")
    text = out
    for tag in ("io_curve", "baseline", "drug", "washout", "induction", "chemical", "follow_up", "paired_pulse",
                "tbs", "hfs", "lfs", "pp_lfs", "train", "percent_of_max", "below_pop_spike"):
        assert f'"{tag}"' in text
    assert main(["schema", "nonsense"]) == 2


def test_the_schemas_accept_the_shipped_files_and_reject_typos(capsys):
    _, out, _ = run(capsys, "schema", "protocol")
    proto_schema = json.loads(out)
    for p in PROTOCOLS.glob("*.toml"):
        jsonschema.validate(tomllib.loads(p.read_text()), proto_schema)
    bad = tomllib.loads((PROTOCOLS / "tbs_ltp.toml").read_text())
    bad["phases"][1]["bursts_per_train"] = 10
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, proto_schema)
    _, out, _ = run(capsys, "schema", "rig")
    jsonschema.validate(tomllib.loads(default_rig_text()), json.loads(out))


def test_nidaq_wiring_the_board_cannot_do(tmp_path, capsys):
    rig = tmp_path / "ni.toml"
    rig.write_text(default_rig_text().replace('backend = "sim"', 'backend = "nidaq"').replace(
        'ao = "ao1"', 'ao = "ao1"\ntrigger_line = "port1/line0"'))
    code, _, err = run(capsys, "check", str(PROTOCOLS / "tbs_ltp.toml"), "--rig", str(rig))
    assert code == 2 and err.startswith(f"{rig}: ") and "port1" in err and len(err.strip().splitlines()) == 1
