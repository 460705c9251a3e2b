"""The rig as wired on NI hardware (real nidaqmx.Task objects over the autospecced interpreter):
gain telegraph and isolator current monitor as extra AI channels of the one AI task."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from nidaqmx.constants import TerminalConfiguration

from rig.cli import main
from rig.storage import open_recording

try:
    from nidaq_fake import FakeBoard
except ImportError:  # tests/ imported as a package
    from tests.nidaq_fake import FakeBoard

RIG = """
backend = "nidaq"
device = "Dev1"
sample_rate_hz = 20000.0

[[ai]]
name = "field"
channel = "ai0"
telegraph = "gain_tel"

[[ai]]
name = "gain_tel"
channel = "ai3"
kind = "telegraph"
terminal = "rse"
telegraph_table = [[1.0, 100.0], [2.0, 200.0], [3.0, 500.0], [4.0, 1000.0]]

[[ai]]
name = "s1_monitor"
channel = "ai1"
kind = "monitor"
terminal = "rse"
range_V = 5.0
pathway = "S1"
monitor_uA_per_V = 100.0

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0

[limits]
max_intensity_uA = 500.0
"""

PROTOCOL = """
[experiment]
name = "nidaq wiring"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]
width_us = 200.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 0.05
interval_s = 0.5
"""


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 2})  # AO0 → the monitor input (column 2: ai1)
    b.ai_constant = {1: 3.02}  # the telegraph (column 1: ai3) says gain 500
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


def _run(tmp_path, capsys, protocol=PROTOCOL):
    (tmp_path / "rig.toml").write_text(RIG)
    (tmp_path / "p.toml").write_text(protocol)
    out = tmp_path / "out.h5"
    rc = main(["run", str(tmp_path / "p.toml"), "--rig", str(tmp_path / "rig.toml"), "--out", str(out), "--no-gui"])
    assert rc == 0, capsys.readouterr().err
    return out


def test_telegraph_and_monitor_are_channels_of_the_one_ai_task(board, tmp_path, capsys):
    out = _run(tmp_path, capsys)
    ai_tasks = board.timed("ai")
    ai = ai_tasks[-1]
    assert ai.ai == [("Dev1/ai0", TerminalConfiguration.DIFF.value, -10.0, 10.0),
                     ("Dev1/ai3", TerminalConfiguration.RSE.value, -10.0, 10.0),
                     ("Dev1/ai1", TerminalConfiguration.RSE.value, -5.0, 5.0)]
    assert len([t for t in ai_tasks if t.starts]) == 1  # one clock: one AI task acquires them all
    with open_recording(out) as rec:
        t = rec.sweep_table
        assert rec.n_sweeps == 6
        assert np.all(t["gain"] == 500.0)  # the telegraph's 3.02 V → the table's 500×
        lsb_mV = 10.0 / 32768 * 1e3
        assert np.allclose(t["gain_mV_per_count"], lsb_mV / 500.0)
        assert rec.sweep_scale(0, 0) == pytest.approx(lsb_mV / 500.0)
        # AO0 looped into the monitor: 1.5 V × 100 µA/V = 150 µA, 200 µs → 30 nC per pulse
        assert np.allclose(t["delivered_uA"], 150.0, rtol=1e-3)
        assert np.allclose(t["delivered_nC"], 30.0, rtol=0.01)
        assert np.all(t["monitor_pulses"] == 1)
        kinds = {e["kind"] for e in rec.events}
        assert not kinds & {"stimulus_mismatch", "gain_changed", "telegraph_unreadable", "alarm"}


def test_monitor_on_the_wrong_range_is_a_mismatch_alarm_on_nidaq(board, tmp_path, capsys):
    board.loopback_scale = 2.0  # the isolator's monitor says twice the command
    out = _run(tmp_path, capsys)
    with open_recording(out) as rec:
        assert np.allclose(rec.sweep_table["delivered_uA"][:1], 300.0, rtol=1e-3)
        mism = [e for e in rec.events if e["kind"] == "stimulus_mismatch"]
        assert len(mism) == 1 and mism[0]["data"]["commanded_uA"] == 150.0
        alarms = [e for e in rec.events if e["kind"] == "alarm"]
        assert alarms[0]["data"]["alarm"] == "stimulus_mismatch" and alarms[0]["data"]["action"] == "pause"
        assert any(e["kind"] == "paused" for e in rec.events)


def test_unreadable_telegraph_is_an_event_and_the_sweep_keeps_the_last_gain(board, tmp_path, capsys):
    board.ai_constant = {1: 6.5}  # no table entry within 0.2 V
    out = _run(tmp_path, capsys)
    with open_recording(out) as rec:
        assert any(e["kind"] == "telegraph_unreadable" for e in rec.events)
        assert np.all(rec.sweep_table["gain"] == 100.0)  # the fixed scale's gain (table's first entry)
