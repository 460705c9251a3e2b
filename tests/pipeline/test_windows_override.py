"""Detector windows can be set in the protocol ([analysis]) and on the command line; the windows in
use are stored with the data (issue 3)."""

from __future__ import annotations

import json

from rig.cli import main
from rig.storage import open_recording
from tests.conftest import write_short_tbs


def _proto(tmp_path, analysis: str, base_min: float = 0.5):
    p = write_short_tbs(tmp_path, base_min=base_min, follow_min=0.5)
    p.write_text(p.read_text().replace("[stimulation]", analysis + "\n[stimulation]"))
    return p


def test_protocol_and_cli_windows_are_used_and_stored(tmp_path):
    p = _proto(tmp_path, "[analysis]\nwindows = { slope = [2.8, 4.2], max_slope_width_ms = 0.8 }\n")
    out = tmp_path / "w.h5"
    assert main(["run", str(p), "--speed", "max", "--out", str(out), "--no-gui",
                 "--window", "peak=2.5:12"]) == 0
    with open_recording(out) as rec:
        w = json.loads(rec.attrs["windows"]) if isinstance(rec.attrs["windows"], str) else rec.attrs["windows"]
    w = dict(w)
    assert list(w["slope"]) == [2.8, 4.2]
    assert list(w["peak"]) == [2.5, 12.0]
    assert w["max_slope_width_ms"] == 0.8


def test_bad_protocol_window_is_exit_2_naming_the_field(tmp_path, capsys):
    p = _proto(tmp_path, "[analysis]\nwindows = { slope = [4.5, 3.0] }\n")
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "analysis" in err and "slope" in err and "Traceback" not in err


def test_bad_cli_window_is_exit_2(tmp_path, capsys):
    p = _proto(tmp_path, "")
    out = tmp_path / "x.h5"
    assert main(["run", str(p), "--no-gui", "--out", str(out), "--window", "slop=1:2"]) == 2
    err = capsys.readouterr().err
    assert "--window" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_windows_are_proposed_not_applied_with_auto_windows_off(tmp_path):
    p = _proto(tmp_path, "[analysis]\nauto_windows = false\n", base_min=2.0)  # 12 baseline sweeps
    out = tmp_path / "prop.h5"
    assert main(["run", str(p), "--speed", "max", "--out", str(out), "--no-gui"]) == 0
    with open_recording(out) as rec:
        props = [e for e in rec.events if e["kind"] == "windows_proposed"]
        used = rec.attrs["windows"]
    assert len(props) == 1
    d = props[0]["data"]
    assert d["ok"] and d["sweeps"] == 10 and d["pathway"] == 0
    a, b = d["windows"]["slope"]
    assert 1.0 < a < b < 8.0  # a slope window on the rising phase of a CA1 fEPSP
    assert "windows" not in {e["kind"] for e in rec.events}  # auto windows off: the windows in use stay
    assert used is not None
