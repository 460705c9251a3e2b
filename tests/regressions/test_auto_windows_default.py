"""Issue 15: a protocol that does not mention ``[analysis] auto_windows`` ran with the fixed default
windows, the ones that measured 2–73 % of the expert's slope on fast 20 kHz CA1 fields. Auto windows
are now on by default: the first 10 baseline test sweeps of each pathway place its windows and do not
count in its baseline; `rig check` says so and warns when too few baseline sweeps are left."""

from __future__ import annotations

import json

from rig.cli import main
from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml


def _check(capsys, path) -> tuple[str, dict]:
    assert main(["check", str(path)]) == 0
    text = capsys.readouterr().out
    assert main(["check", str(path), "--json"]) == 0
    return text, json.loads(capsys.readouterr().out)["windows"]


def test_check_says_windows_are_placed_and_warns_on_a_short_baseline(tmp_path, capsys):
    text, w = _check(capsys, ROOT / "protocols" / "tbs_ltp.toml")
    assert w == {"auto_windows": True, "settle_sweeps": 10, "baseline_sweeps_counted": {"S1": 50}}
    assert "placed per pathway from its first 10 baseline test sweeps" in text and "warning" not in text
    short = tmp_path / "short.toml"
    short.write_text(tbs_toml(2, 3, 10))  # 12 baseline sweeps: 2 would count
    text, w = _check(capsys, short)
    assert w["baseline_sweeps_counted"] == {"S1": 2}
    assert "warning: S1 keep fewer than 10" in text and "auto_windows = false" in text
    off = tmp_path / "off.toml"
    off.write_text(tbs_toml(2, 3, 10).replace("[stimulation]", "[analysis]\nauto_windows = false\n\n[stimulation]"))
    text, w = _check(capsys, off)
    assert w == {"auto_windows": False} and "windows: fixed" in text and "warning" not in text


def test_a_protocol_without_analysis_places_its_windows_before_the_baseline_counts(tmp_path, capsys):
    proto = tmp_path / "tbs.toml"
    proto.write_text(tbs_toml(5, 2, 10))  # 30 baseline sweeps, no [analysis] table
    out = tmp_path / "tbs.h5"
    assert main(["run", str(proto), "--sim", "--speed", "max", "--seed", "1", "--no-gui", "--out", str(out)]) == 0
    capsys.readouterr()
    with open_recording(out) as rec:
        auto = [e for e in rec.events if e["kind"] == "windows" and e["data"].get("source") == "auto"]
        assert len(auto) == 1 and len(rec.analyses) == 2 and "from landmarks" in auto[0]["text"]
        v = rec.analyses[-1]  # S1's placed windows, its 10 settling sweeps re-measured with them
        assert v["source"] == "auto" and v["pathway"] == 0 and v["remeasured"] == 10 and v["first_sweep"] == 10
        assert v["pathway_windows"]["0"]["slope"] == auto[0]["data"]["windows"]["slope"]
    assert main(["summary", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["per_pathway"]["0"]["baseline_settling_sweeps"] == 10
    assert s["per_pathway"]["0"]["baseline_sweeps"] == 20


def test_a_baseline_the_settling_sweeps_use_up_says_why_it_has_no_result(tmp_path, capsys):
    """1 min of baseline at 5 s: the 12 sweeps hold 3 averages of 3 before S1's windows are placed
    and none after, so `rig summary --averaged` has no baseline; it says why and what to change."""
    proto = tmp_path / "short.toml"
    proto.write_text(tbs_toml(1, 3, 5))
    out = tmp_path / "short.h5"
    assert main(["run", str(proto), "--sim", "--speed", "max", "--seed", "4", "--no-gui", "--average", "3",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["summary", str(out), "--averaged", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    reason = s["per_pathway"]["0"]["reason"]
    assert s["ltp_percent"] is None and "before the windows change are left out" in reason
    assert "auto_windows = false" in reason
