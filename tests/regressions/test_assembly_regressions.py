"""Regressions of the run assembly (issue: one place where a run is assembled, a scheduler
protocol, subscriber kinds, one sample rate). Each test failed on the code before the fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from drivers.base import SampleRateError
from rig.cli import main
from rig.core.documents import Sweep
from rig.core.errors import UserError
from rig.experiment.runner import RunOptions, run_experiment
from rig.protocol.rigfile import load_rig
from rig.storage import open_recording
from tests.conftest import baseline_toml
from tests.nidaq_fake import FakeBoard
from tests.pipeline.test_nidaq_run import PROTOCOL as NI_PROTOCOL
from tests.pipeline.test_nidaq_run import RIG as NI_RIG

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 1})
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


def test_engine_import_does_not_load_the_controller_or_scipy():
    # numba itself imports the bare ``scipy`` package; the controller's fits pull in scipy.optimize
    code = ("import sys, rig.engine; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('scipy.optimize', 'scipy.stats')) "
            "or m.startswith('rig.closed_loop'))))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == []


def test_failing_observer_does_not_stop_a_simulated_run(tmp_path):
    proto = tmp_path / "p.toml"
    proto.write_text(baseline_toml(2.0, 5.0))
    calls = []

    def broken(doc: object) -> None:
        calls.append(doc)
        raise RuntimeError("display went away")

    res = run_experiment(RunOptions(protocol=proto, out=tmp_path / "o.h5", speed=None, control=False,
                                    subscribers=[broken]))
    assert res.stop.reason == "completed"
    with open_recording(res.path) as rec:
        assert rec.complete and rec.n_sweeps == 24
        failed = [e for e in rec.events if e["kind"] == "observer_error"]
    assert failed and "display went away" in failed[0]["text"]
    # rate-limited: one event per 10 s of samples at most (+ the final count), not one per document
    run_s = res.stop.sample / res.engine.fs
    assert len(failed) <= run_s / 10 + 2 < len(calls)
    # every failure is counted, but for those on the last documents (the final report, RunStop)
    assert len(calls) - 2 <= sum(e["data"]["failures"] for e in failed) <= len(calls)
    assert res.engine.fanout.failures() == {failed[0]["data"]["observer"]: len(calls)}


def test_device_at_another_rate_than_the_plan_is_refused():
    from drivers.sim.device import SimDevice
    from drivers.sim.simple_slice import SimpleSlice
    from rig.closed_loop.controller import Controller
    from rig.engine import ChannelScaling, Engine
    from rig.protocol.load import expand, load_protocol

    rig, _ = load_rig(None)
    proto, _ = load_protocol(ROOT / "protocols" / "tbs_ltp.toml")
    plan = expand(proto, rig, "tbs")  # 20 kHz, the rig file's rate
    dev = SimDevice(SimpleSlice(10000.0), sample_rate_hz=10000.0, block_samples=1000, speed=None)
    with pytest.raises(SampleRateError, match="10000 Hz"):
        Engine(dev, Controller(plan), rig.output_map(), rig.stim_limits(), ChannelScaling([10.0], [1000.0]),
               [], horizon_samples=1000)


def test_validate_sim_refuses_stimuli_beyond_rig_limits():
    from rig.bench.validate_sim import CONDITIONS, run_slice

    rig, _ = load_rig(None)
    low = rig.model_copy(update={"limits": rig.limits.model_copy(update={"max_intensity_uA": 5.0})})
    with pytest.raises(UserError, match="exceeds the rig limit of 5 µA"):
        run_slice(CONDITIONS[0], 1, rig=low)


def test_selftest_refuses_pulses_beyond_rig_limits(tmp_path, capsys):
    # 10 V × 100 µA/V = 1000 µA: the default rig allows 800 µA, as `rig run` would refuse
    rc = main(["selftest", "--sim", "--amplitude-V", "10", "--out", str(tmp_path / "s.json")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exceeds the rig limit of 800 µA" in err[0]
    assert not (tmp_path / "s.json").exists()


def test_nidaq_device_refuses_a_coerced_sample_rate(board):
    from drivers.nidaq import AIChannel, AOChannel, NidaqDevice

    board.coerce_rate = lambda hz: 19_999.6
    dev = NidaqDevice("Dev1", 20_000.0, [AIChannel("Dev1/ai0")], [AOChannel("Dev1/ao0", -5.0, 5.0)])
    with pytest.raises(SampleRateError, match="19999.6 Hz"):
        dev.start()
    dev.close()
    assert not any(t.starts for t in board.tasks)  # nothing armed, nothing started


def test_rig_run_nidaq_refuses_a_coerced_sample_rate_with_exit_2(board, tmp_path, capsys):
    rig, proto, out = tmp_path / "rig.toml", tmp_path / "p.toml", tmp_path / "o.h5"
    rig.write_text(NI_RIG)
    proto.write_text(NI_PROTOCOL)
    board.coerce_rate = lambda hz: hz * (1 + 1e-6)
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rig:")]
    assert rc == 2
    assert len(err) == 1 and "sample rate" in err[0] and "20000.02 Hz" in err[0]
    assert not out.exists()
    assert not any(t.starts for t in board.tasks) and all(t.cleared for t in board.tasks)


def test_selftest_runs_through_the_engine(monkeypatch, tmp_path, capsys):
    """One write-ahead path: the selftest's pulses are the engine's sweeps."""
    from rig import engine as engine_mod

    seen = []
    real = engine_mod.Engine.emit

    def spy(self, doc):
        if isinstance(doc, Sweep):
            seen.append(doc.stim_sample)
        return real(self, doc)

    monkeypatch.setattr(engine_mod.Engine, "emit", spy)
    assert main(["selftest", "--sim", "--pulses", "5", "--out", str(tmp_path / "s.json"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert seen == res["expected"] and res["passed"]

