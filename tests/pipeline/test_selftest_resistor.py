"""Issue 21: `rig selftest RIGFILE --resistor-kohm R` measures the isolator's µA/V on its current
monitor into a known resistor, on the simulated rig (range_x10 fault) and on NI hardware (real
nidaqmx.Task objects over the autospecced interpreter)."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
from nidaqmx.constants import TerminalConfiguration

from rig.cli import main
from rig.core.errors import UserError
from rig.experiment.selftest_resistor import resistor_pulse
from rig.protocol.rigfile import parse_rig

try:
    from nidaq_fake import FakeBoard
except ImportError:  # tests/ imported as a package
    from tests.nidaq_fake import FakeBoard

RIG = """
backend = "{backend}"
device = "Dev1"
sample_rate_hz = 20000.0

[[ai]]
name = "field"
channel = "ai0"
gain = 1000.0

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

[sim]
model = "simple"
"""


def _selftest(tmp_path, capsys, backend: str, *extra: str) -> tuple[int, dict, str]:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG.format(backend=backend))
    out = tmp_path / "st.json"
    rc = main(["selftest", str(rig), "--resistor-kohm", "10", "--pulses", "5", "--out", str(out), "--json", *extra])
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc == {**json.loads(out.read_text()), "file": str(out)}
    return rc, doc, cap.err


def test_sim_resistor_check_passes_with_the_rig_files_scaling(tmp_path, capsys):
    rc, doc, err = _selftest(tmp_path, capsys, "sim")
    assert rc == 0, err
    r = doc["resistor"]
    assert doc["passed"] and r["passed"] and r["pulses_seen"] == r["pulses"] == 5
    assert r["commanded_uA"] == 100.0 and r["amplitude_V"] == 1.0  # 100 µA / 100 µA/V
    assert r["measured_uA_per_V"] == pytest.approx(100.0, rel=0.02)
    assert r["across_resistor_V"] == pytest.approx(1.0, rel=0.02)  # V = I R: 100 µA × 10 kΩ


def test_sim_range_switch_x10_fails_the_resistor_check(tmp_path, capsys):
    rc, doc, _ = _selftest(tmp_path, capsys, "sim", "--sim-fault", "range_x10@0")
    r = doc["resistor"]
    assert rc == 1 and not doc["passed"] and not r["passed"]
    assert r["measured_uA_per_V"] > 2 * 100.0  # 10× the current; the ±5 V monitor clips at 500 µA
    assert r["monitor_at_range"]


def test_text_output_is_one_line_per_check(tmp_path, capsys):
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG.format(backend="sim"))
    rc = main(["selftest", str(rig), "--resistor-kohm", "10", "--pulses", "3", "--out", str(tmp_path / "a.json"),
               "--sim-fault", "range_x10@0"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 1 and len(lines) == 1
    assert lines[0].startswith("selftest FAILED: S1 µA/V into 10 kΩ") and "tolerance ±5 %" in lines[0]


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 1})  # the isolator into the resistor; its monitor (ai1) reads the current
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


def test_nidaq_resistor_check_task_configuration_and_result(board, tmp_path, capsys):
    rc, doc, err = _selftest(tmp_path, capsys, "nidaq")
    assert rc == 0, err
    ai, ao = board.last("ai"), board.last("ao")
    assert ai.ai == [("Dev1/ai0", TerminalConfiguration.DIFF.value, -10.0, 10.0),
                     ("Dev1/ai1", TerminalConfiguration.RSE.value, -5.0, 5.0)]
    assert ao.ao == [("Dev1/ao0", -5.0, 5.0)]  # the rig's 500 µA limit / 100 µA/V
    assert ao.timing[1] == "/Dev1/ai/SampleClock" and ao.trigger[0] == "/Dev1/ai/StartTrigger"
    cmd = np.concatenate([c.args[5].ravel() for c in board.interp.write_analog_f64.call_args_list
                          if c.args[0] == ao.handle])  # every block the engine wrote (the fake forgets at stop)
    assert cmd.max() == pytest.approx(1.0)  # 100 µA at 100 µA/V
    assert np.count_nonzero(cmd) == 5 * 500e-6 * 20000  # 5 pulses × 500 µs (the rig's max width)
    r = doc["resistor"]
    lsb_uA = 5.0 / 32768 * 100.0  # a noiseless board: exact to one ADC count of the ±5 V monitor
    assert r["measured_uA_per_V"] == pytest.approx(100.0, abs=lsb_uA)
    assert doc["backend"] == "nidaq"
    assert all(t.cleared for t in board.tasks) and np.all(
        [t for t in board.of_kind("ao") if t.timing is None][-1].immediate[-1] == 0.0)


def test_nidaq_isolator_off_its_scaling_fails_with_the_measured_value(board, tmp_path, capsys):
    board.loopback_scale = 1.12  # the isolator delivers 12 % more than the rig file says
    rc, doc, _ = _selftest(tmp_path, capsys, "nidaq")
    r = doc["resistor"]
    assert rc == 1 and not r["passed"]
    assert r["measured_uA_per_V"] == pytest.approx(112.0, abs=0.02)  # one ADC count
    assert r["error_percent"] == pytest.approx(12.0, abs=0.02)


def test_nidaq_open_circuit_reads_no_current(board, tmp_path, capsys):
    board.loopback_scale = 0.0  # no resistor: no current flows
    rc, doc, _ = _selftest(tmp_path, capsys, "nidaq")
    assert rc == 1 and doc["resistor"]["pulses_seen"] == 0 and doc["resistor"]["measured_uA_per_V"] is None


def test_test_current_respects_compliance_limits_and_monitor_range():
    rig = parse_rig(RIG.format(backend="sim"), "rig.toml")
    assert resistor_pulse(rig, 0, 10.0).current_uA == 100.0
    assert resistor_pulse(rig, 0, 1000.0).current_uA == pytest.approx(10.0)  # 10 V compliance into 1 MΩ
    with pytest.raises(UserError, match="max_intensity_uA"):
        resistor_pulse(rig, 0, 10.0, current_uA=400.0)  # > 500 µA / 4
    narrow = parse_rig(RIG.format(backend="sim").replace("range_V = 5.0", "range_V = 1.0"), "rig.toml")
    assert resistor_pulse(narrow, 0, 10.0).current_uA == pytest.approx(80.0)  # 80 % of ±1 V × 100 µA/V
    with pytest.raises(UserError, match="monitor"):
        resistor_pulse(narrow, 0, 10.0, current_uA=120.0)


@pytest.mark.parametrize("extra, needle", [
    (["--resistor-kohm", "0"], "--resistor-kohm"),
    (["--resistor-kohm", "10", "--tolerance-percent", "80"], "--tolerance-percent"),
    (["--sim-fault", "range_x10@0"], "--resistor-kohm"),
    (["--resistor-kohm", "10", "--sim-fault", "knob@3"], "--sim-fault"),
])
def test_bad_options_exit_2_one_line(tmp_path, capsys, extra, needle):
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG.format(backend="sim"))
    assert main(["selftest", str(rig), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_a_pathway_without_monitor_is_refused(tmp_path, capsys):
    assert main(["selftest", "--resistor-kohm", "10"]) == 2  # the default sim rig has no monitor
    assert "no current monitor" in capsys.readouterr().err
