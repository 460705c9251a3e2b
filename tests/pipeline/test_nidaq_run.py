"""`rig run` / `rig selftest` with ``backend = "nidaq"`` against the fake board (real
nidaqmx.Task objects over an autospecced interpreter)."""

from __future__ import annotations

import json
import os
import signal
import threading
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
do_lines = ["port0/line0"]

[[ai]]
name = "field"
channel = "ai0"
range_V = 10.0
gain = 1000.0
terminal = "differential"

[[ai]]
name = "stim_monitor"       # isolator command monitor (here: AO0 wired to AI1)
channel = "ai1"
range_V = 10.0
gain = 1.0
terminal = "rse"

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0
trigger_line = "port0/line0"

[limits]
max_intensity_uA = 500.0
"""

PROTOCOL = """
[experiment]
name = "nidaq smoke"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 0.05
interval_s = 0.5
"""


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 1})
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


@pytest.fixture
def files(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    proto = tmp_path / "p.toml"
    proto.write_text(PROTOCOL)
    return rig, proto, tmp_path / "out.h5"


def test_rig_run_nidaq_writes_a_valid_file(board, files, capsys):
    rig, proto, out = files
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui", "--json"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["sweeps"] == 6
    ai, ao, do = board.last("ai"), board.last("ao"), board.last("do")
    assert ai.ai == [("Dev1/ai0", TerminalConfiguration.DIFF.value, -10.0, 10.0),
                     ("Dev1/ai1", TerminalConfiguration.RSE.value, -10.0, 10.0)]
    assert ao.ao == [("Dev1/ao0", -5.0, 5.0)]  # 500 µA limit / 100 µA/V
    assert do.do[0][0] == "Dev1/port0/line0"
    assert ao.trigger[0] == "/Dev1/ai/StartTrigger"
    with open_recording(out) as rec:
        assert rec.complete and rec.n_sweeps == 6
        assert rec.status["gaps"] == 0
        for i in range(rec.n_sweeps):
            r = rec.sweep_table[i]
            monitor_V = rec.sweep_counts(i)[:, 1] * rec.mV_per_count[1] / 1e3
            onset = int(np.flatnonzero(monitor_V > 0.75)[0]) + int(r["start_sample"])
            assert onset == int(r["stim_sample"])  # 1.5 V command at exactly the stim sample
            assert monitor_V.max() == pytest.approx(1.5, abs=1e-3)
    # Every exit path: timed outputs closed, 0 V / low written, board reset.
    assert all(t.cleared for t in board.tasks)
    assert board.resets == ["Dev1", "Dev1"]
    zero_ao = [t for t in board.of_kind("ao") if t.timing is None][-1]
    assert np.all(zero_ao.immediate[-1] == 0.0)


def test_rig_run_nidaq_overflow_gap_is_recorded(board, files, capsys):
    rig, proto, out = files
    board.read_errors = {5: (-200279, 4_000)}
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    assert rc == 0, capsys.readouterr().err
    with open_recording(out) as rec:
        gaps = [e for e in rec.events if e["kind"] == "gap"]
        assert len(gaps) == 1 and gaps[0]["data"]["samples"] >= 4_000
        assert rec.status["gaps"] == 1 and rec.complete


def test_rig_run_nidaq_fatal_error_keeps_the_file(board, files, capsys):
    rig, proto, out = files
    board.read_errors = {25: (-50103, 0)}
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    assert rc == 1 and "-50103" in err
    with open_recording(out) as rec:
        assert rec.n_sweeps >= 1
    assert all(t.cleared for t in board.tasks)


def test_rig_run_nidaq_output_underflow_stops_safely(board, files, capsys):
    """An output underflow stops stimulation (outputs at 0 V, event recorded) with every sweep
    delivered before it kept; the run says it was not completed (exit 1)."""
    rig, proto, out = files
    board.write_errors = {20: -200290}
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    assert rc == 1 and "not completed" in err  # stimuli were lost: never "completed" with exit 0
    with open_recording(out) as rec:
        kinds = [e["kind"] for e in rec.events]
        assert "output_underflow" in kinds
        under = next(e for e in rec.events if e["kind"] == "output_underflow")
        assert rec.n_sweeps >= 1
        assert all(rec.sweep_table["stim_sample"] < under["sample"])
        assert rec.status["stop_reason"] != b"completed"
    assert all(t.cleared for t in board.tasks)
    zero_ao = [t for t in board.of_kind("ao") if t.timing is None][-1]
    assert np.all(zero_ao.immediate[-1] == 0.0)


def test_rig_run_nidaq_sigint_zeroes_outputs_and_keeps_sweeps(board, files, capsys):
    rig, proto, out = files
    proto.write_text(PROTOCOL.replace("duration_min = 0.05", "duration_min = 2.0"))
    board.gate_at = 40  # the board holds its 41st read until SIGINT has been sent

    def interrupt() -> None:
        if board.at_gate.wait(60):
            os.kill(os.getpid(), signal.SIGINT)
        board.gate.set()

    t = threading.Thread(target=interrupt)
    t.start()
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    t.join()
    assert rc == 130, capsys.readouterr().err
    with open_recording(out) as rec:
        assert rec.complete and rec.status["stop_reason"] == b"interrupted"
        assert 1 <= rec.n_sweeps < 240
    assert all(t.cleared for t in board.tasks)
    zero_ao = [t for t in board.of_kind("ao") if t.timing is None][-1]
    zero_do = [t for t in board.of_kind("do") if t.timing is None][-1]
    assert np.all(zero_ao.immediate[-1] == 0.0) and int(zero_do.immediate[-1][0]) == 0


def test_rig_run_without_driver_suggests_sim(files, capsys):
    rig, proto, out = files
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    assert rc == 1
    errors = [line for line in err.splitlines() if line.startswith("rig:")]
    assert len(errors) == 1 and errors[0].startswith("rig: failed: ")
    assert "not installed" in errors[0] and "--sim" in errors[0]


def test_selftest_nidaq_loopback_zero_error(board, files, tmp_path, capsys):
    rig, _, _ = files
    out = tmp_path / "st.json"
    rc = main(["selftest", "--rig", str(rig), "--ai", "stim_monitor", "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    res = json.loads(capsys.readouterr().out)
    assert res == json.loads(out.read_text())
    assert res["passed"] and res["missing"] == 0 and len(res["errors_samples"]) == 20
    assert res["max_abs_error_samples"] == 0 and res["jitter_samples"] == 0.0
    assert res["backend"] == "nidaq" and res["ai_channel"] == "Dev1/ai1"


def test_selftest_sim_reports_zero_error(tmp_path, capsys):
    out = tmp_path / "st.json"
    assert main(["selftest", "--sim", "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["passed"] and res["mean_error_samples"] == 0.0 and res["jitter_samples"] == 0.0


def test_selftest_detects_a_misaligned_output():
    """A device that delivers every pulse 3 samples late fails the test (errors +3)."""
    from drivers.sim.device import SimDevice
    from rig.commands.selftest import NoSlice
    from rig.experiment.selftest import SelftestConfig, run_selftest

    class Late(SimDevice):
        def write(self, start, ao_V, do):
            super().write(start, np.roll(ao_V, 3, axis=1), do)

    dev = Late(NoSlice(2), ai_channels=["a", "b"], ao_channels=["ao0"], block_samples=500,
               speed=None, loopback={0: 1})
    res = run_selftest(dev, SelftestConfig(n_pulses=5))
    assert res.errors_samples == [3] * 5 and not res.passed


def test_rig_names_map_to_physical_channels():
    from rig.experiment.nidaq_rig import physical

    assert physical("Dev1", "ai0") == "Dev1/ai0"
    assert physical("Dev1", "Dev1/ai0") == "Dev1/ai0"
    assert physical("Dev1", "/Dev1/ai3") == "Dev1/ai3"
    assert physical("Dev1", "port0/line2") == "Dev1/port0/line2"
    assert physical("Dev1", "Dev1/port0/line2") == "Dev1/port0/line2"


def test_rig_file_with_a_port1_ttl_line_is_refused(board, files, capsys):
    rig, proto, out = files
    rig.write_text(RIG.replace('"port0/line0"', '"port1/line0"'))
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    assert rc == 2 and "rig: error: rig file: DO line" in err and "port0" in err
    assert not out.exists() and board.tasks == []  # refused before the board was touched
