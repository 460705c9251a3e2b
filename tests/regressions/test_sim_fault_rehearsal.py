"""Issue 16: alarms could not be rehearsed. ``--sim-fault slice-death|noise|electrode-shift@MIN``
makes each alarm fire in a real simulated run (the realistic slice of the default rig)."""

from __future__ import annotations

import pytest

from rig.cli import main
from rig.storage import open_recording

PROTOCOL = """
[experiment]
name = "fault rehearsal"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]
width_us = 100.0
sweep_pre_ms = 20.0
sweep_post_ms = 80.0

[alarms]
response_lost_percent = 20.0
noise_max_uV = 100.0
volley_change_percent = 40.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 3.0
interval_s = 10.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 7.0
interval_s = 10.0
"""


def _run(tmp_path, capsys, *extra: str, protocol: str = PROTOCOL):
    (tmp_path / "p.toml").write_text(protocol)
    out = tmp_path / "out.h5"
    rc = main(["run", str(tmp_path / "p.toml"), "--sim", "--out", str(out), "--no-gui", "--speed", "max",
               "--seed", "3", *extra])
    return rc, out, capsys.readouterr().err


def _alarms(out):
    with open_recording(out) as rec:
        return [(e["data"]["alarm"], e["sample"] / 20000.0 / 60.0) for e in rec.events if e["kind"] == "alarm"]


@pytest.mark.parametrize("spec, alarm", [
    ("slice-death@4min", "response_lost"),
    ("noise@4min", "noise"),
    ("electrode-shift@4", "volley_change"),
])
def test_each_slice_fault_raises_its_alarm_after_its_minute(tmp_path, capsys, spec, alarm):
    rc, out, err = _run(tmp_path, capsys, "--sim-fault", spec)
    assert rc == 0, err
    fired = _alarms(out)
    # its alarm fires, and nothing fires before the fault's minute (a dying slice also loses its volley,
    # so volley_change may come first; noise may then spoil a slope or two)
    assert alarm in [a for a, _ in fired], fired
    assert all(t >= 4.0 for _, t in fired), fired


def test_no_fault_no_alarm(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys)
    assert rc == 0, err
    assert _alarms(out) == []


@pytest.mark.parametrize("spec, words", [
    ("slice-death", "NAME@MINUTES"),
    ("slice-dead@45min", "slice-death, noise, electrode-shift"),
    ("noise@-3min", "NAME@MINUTES"),
    ("noise@99999min", "outside 0–1440 min"),
])
def test_bad_fault_spec_is_one_line_exit_2(tmp_path, capsys, spec, words):
    rc, out, err = _run(tmp_path, capsys, "--sim-fault", spec)
    assert rc == 2 and not out.exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--sim-fault" in lines[0] and words in lines[0], err
    assert "Traceback" not in err


def test_a_fault_whose_alarm_is_off_says_so(tmp_path, capsys):
    proto = PROTOCOL.replace("volley_change_percent = 40.0\n", "").replace("duration_min = 7.0", "duration_min = 1.0")
    rc, out, err = _run(tmp_path, capsys, "--sim-fault", "electrode-shift@3.5min", protocol=proto)
    assert rc == 0, err
    assert "volley_change alarm is off" in err
