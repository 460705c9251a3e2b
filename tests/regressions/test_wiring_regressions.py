"""Issue 21, the rig as wired: each finding as a test that failed before the fix."""

from __future__ import annotations

import numpy as np
import pytest

from rig.cli import main
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import parse_rig
from rig.storage import open_recording

TELEGRAPH_RIG = """
backend = "sim"
sample_rate_hz = 20000.0

[[ai]]
name = "field"
channel = "ai0"
telegraph = "gain_tel"

[[ai]]
name = "gain_tel"
channel = "ai2"
kind = "telegraph"
terminal = "rse"
telegraph_table = [[1.0, 100.0], [2.0, 200.0], [3.0, 500.0], [4.0, 1000.0]]

[[ai]]
name = "s1_monitor"
channel = "ai1"
kind = "monitor"
terminal = "rse"
pathway = "S1"
monitor_uA_per_V = 200.0

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0

[sim]
model = "simple"
"""

TTL_RIG = """
backend = "sim"
sample_rate_hz = 20000.0
do_lines = ["port0/line0"]

[[ai]]
name = "field"
channel = "ai0"
gain = 1000.0

[[stim]]
pathway = "S1"
trigger_line = "port0/line0"      # a DS3: current and width on its front panel

[sim]
model = "simple"
"""

PROTOCOL = """
[experiment]
name = "wiring"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]

[[phases]]
kind = "baseline"
duration_min = 1
interval_s = 5

[[phases]]
kind = "follow_up"
duration_min = 1
interval_s = 5
"""


def _run(tmp_path, capsys, rig_text, *extra, protocol=PROTOCOL):
    (tmp_path / "rig.toml").write_text(rig_text)
    (tmp_path / "p.toml").write_text(protocol)
    out = tmp_path / "out.h5"
    rc = main(["run", str(tmp_path / "p.toml"), "--rig", str(tmp_path / "rig.toml"), "--out", str(out),
               "--no-gui", "--speed", "max", *extra])
    err = capsys.readouterr().err
    return rc, out, err


def test_missing_gain_is_an_error_not_1000():
    text = TTL_RIG.replace("gain = 1000.0\n", "")
    with pytest.raises(InvalidFile) as exc:
        parse_rig(text, "rig.toml")
    assert "'gain' is required" in str(exc.value) and "rig.toml" in str(exc.value)


def test_turned_gain_knob_is_an_alarm_and_every_sweep_is_scaled_with_its_own_gain(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys, TELEGRAPH_RIG, "--sim-fault", "gain_knob@1.5")
    assert rc == 0, err
    with open_recording(out) as rec:
        t = rec.sweep_table
        before, after = t["time_s"] < 90, t["time_s"] >= 90.2
        assert np.all(t["gain"][before] == 100.0) and np.all(t["gain"][after] == 200.0)
        changed = [e for e in rec.events if e["kind"] == "gain_changed"]
        assert len(changed) == 1 and changed[0]["data"]["previous"] == 100.0 and changed[0]["data"]["gain"] == 200.0
        assert changed[0]["data"]["phase_kind"] == "follow_up"
        assert [e["data"]["alarm"] for e in rec.events if e["kind"] == "alarm"] == ["gain_change"]
        # the values stay true: the slope (mV/ms at the electrode) does not double with the gain
        m = rec.measurements
        slope = m["slope_mV_per_ms"]
        ratio = np.median(slope[m["sweep_index"] >= np.flatnonzero(after)[0]]) / np.median(
            slope[m["sweep_index"] < np.flatnonzero(after)[0]])
        assert ratio == pytest.approx(1.0, abs=0.15)
        raw = [rec.sweep_counts(i)[:, 0].min() for i in range(rec.n_sweeps)]
        assert np.median(np.asarray(raw)[after]) < 1.6 * np.median(np.asarray(raw)[before])  # counts doubled
        mv = [rec.sweep_mV(i, 0)[450:].min() for i in range(rec.n_sweeps)]
        assert np.median(np.asarray(mv)[after]) == pytest.approx(np.median(np.asarray(mv)[before]), rel=0.15)


def test_range_switch_x10_is_caught_by_the_current_monitor_and_pauses(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys, TELEGRAPH_RIG, "--sim-fault", "range_x10@0.5")
    assert rc == 0, err
    with open_recording(out) as rec:
        t = rec.sweep_table
        ok = t["time_s"] < 30
        assert np.allclose(t["delivered_uA"][ok], 150.0, rtol=0.02)
        assert np.all(t["delivered_uA"][~ok] >= 1400.0)  # the 10× current, as the monitor measured it
        assert np.all(t["intensity_uA"] == 150.0)  # the command, beside the delivered value
        mism = [e for e in rec.events if e["kind"] == "stimulus_mismatch"]
        assert len(mism) == 1 and mism[0]["data"]["delivered_uA"] >= 1400.0
        alarm = [e for e in rec.events if e["kind"] == "alarm"]
        assert alarm[0]["data"]["alarm"] == "stimulus_mismatch" and alarm[0]["data"]["action"] == "pause"
        paused = [e for e in rec.events if e["kind"] == "paused"]
        assert paused and rec.n_sweeps == int(np.sum(ok)) + 1  # no more stimuli after the alarm


def test_stimulus_mismatch_rule_comes_from_the_protocol(tmp_path, capsys):
    proto = PROTOCOL + '\n[alarms]\nstimulus_mismatch_action = "stop"\n'
    rc, out, _ = _run(tmp_path, capsys, TELEGRAPH_RIG, "--sim-fault", "range_x10@0.5", protocol=proto)
    assert rc == 1
    with open_recording(out) as rec:
        assert rec.status["stop_reason"].decode() == "aborted"


def test_ttl_only_s1_runs_in_the_simulator_with_its_front_panel_values(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys, TTL_RIG, "--panel", "S1=200:100")
    assert rc == 0, err
    with open_recording(out) as rec:
        t = rec.sweep_table
        assert rec.n_sweeps == 24
        assert np.all(t["intensity_uA"] == 200.0) and np.all(t["width_samples"] == 2)
        assert '"S1": [200.0, 100.0]' in rec.attrs["front_panel"]
        slope = rec.measurements["slope_mV_per_ms"]
        assert np.all(np.isfinite(slope)) and np.median(slope) < -0.1  # a response: the pulse went out


def test_ttl_only_pathway_without_front_panel_values_is_refused(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys, TTL_RIG)
    assert rc == 2 and "--panel S1=" in err and "TTL-only" in err and not out.exists()


def test_ttl_only_io_curve_is_refused_at_check(tmp_path, capsys):
    (tmp_path / "rig.toml").write_text(TTL_RIG)
    (tmp_path / "p.toml").write_text(PROTOCOL.replace('kind = "baseline"', 'kind = "io_curve"\nintensities_uA = '
                                                      '[50, 100]\n#', 1).replace("duration_min = 1\ninterval_s = 5",
                                                                                 "interval_s = 5", 1))
    rc = main(["check", str(tmp_path / "p.toml"), "--rig", str(tmp_path / "rig.toml")])
    err = capsys.readouterr().err
    assert rc == 2 and "I/O curve" in err and "front panel" in err


def test_ttl_only_pathway_builds_nidaq_channels_without_an_ao():
    from rig.experiment.nidaq_rig import _specs

    rig = parse_rig(TTL_RIG.replace('backend = "sim"', 'backend = "nidaq"'), "rig.toml")
    ai, ao, lines = _specs(rig)
    assert ao == [] and lines == ["Dev1/port0/line0"]


def test_unknown_sim_fault_is_a_one_line_error(tmp_path, capsys):
    rc, out, err = _run(tmp_path, capsys, TELEGRAPH_RIG, "--sim-fault", "gain_knop@3")
    assert rc == 2 and "gain_knob" in err and not out.exists()
