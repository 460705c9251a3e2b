"""Outputs are driven to zero on every exit path; nothing recorded is lost (DESIGN §4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rig.core.errors import StimulusLimitError
from rig.core.plan import Stimulus
from rig.stimulus import OutputMap, StimLimits, render_block
from rig.storage import open_recording
from tests.conftest import PROTOCOLS, ROOT, write_short_tbs


def _spawn(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "rig.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_sweeps(path, n: int, proc: subprocess.Popen, timeout_s: float = 120.0) -> int:
    try:
        return _wait(path, n, proc, timeout_s)
    except BaseException:
        if proc.poll() is None:  # never leave a run behind (an orphaned starved run once grew to 4.4 GB)
            proc.kill()
            proc.communicate()
        raise


def _wait(path, n: int, proc: subprocess.Popen, timeout_s: float) -> int:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        assert proc.poll() is None, proc.communicate()
        if path.exists():
            try:
                with open_recording(path) as rec:
                    if rec.n_sweeps >= n:
                        return rec.n_sweeps
            except Exception:  # noqa: BLE001 - the file may be mid-creation
                pass
        time.sleep(0.1)
    raise AssertionError("recorder made no progress")


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")])
def test_signal_zeroes_outputs_keeps_sweeps_exit_130(tmp_path, sig, name):
    out = tmp_path / "int.h5"
    # at 200× a loaded machine can lose samples (the sim board's buffer is 50 ms of wall time): the
    # stimuli missed then would stop the run (stimulus_missed_action = "stop") before the signal
    proto = tmp_path / "tbs_ltp.toml"
    proto.write_text((PROTOCOLS / "tbs_ltp.toml").read_text() + '\n[alarms]\nstimulus_missed_action = "continue"\n')
    proc = _spawn(["run", str(proto), "--sim", "--speed", "200", "--seed", "3",
                   "--out", str(out), "--no-gui"])
    seen = _wait_for_sweeps(out, 4, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert name in lines[0] and "outputs zeroed" in lines[0] and str(out) in lines[0]
    with open_recording(out) as rec:
        assert rec.n_sweeps >= seen
        assert rec.complete and rec.status["stop_reason"] == b"interrupted"
        zeroed = [e for e in rec.events if e["kind"] == "outputs_zeroed"]
        assert zeroed[-1]["text"] == "interrupted"
        for i in range(rec.n_sweeps):  # every stored sweep is whole
            assert rec.sweep_counts(i).shape[0] == rec.sweep_table[i]["n_samples"]


def test_exception_mid_run_zeroes_outputs_and_keeps_file(tmp_path, monkeypatch, capsys):
    """A storage failure (disk full) stops stimulation with outputs at 0 V and exits 1."""
    devices = []
    import rig.experiment.assemble as assemble

    real_make = assemble.make_device

    def capture(*a, **k):
        d = real_make(*a, **k)
        devices.append(d)
        return d

    monkeypatch.setattr(assemble, "make_device", capture)
    from rig.storage import writer as w

    real_sweep = w.RecordingWriter._sweep

    def failing(self, doc):
        if doc.index == 5:
            raise OSError(28, "No space left on device")
        return real_sweep(self, doc)

    monkeypatch.setattr(w.RecordingWriter, "_sweep", failing)
    from rig.cli import main

    out = tmp_path / "full.h5"
    code = main(["run", str(write_short_tbs(tmp_path)), "--speed", "max", "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    assert code == 1
    assert "No space left on device" in err and "Traceback" not in err
    dev = devices[0]
    assert dev.zeroed_count >= 2  # at start-up and on the way out
    assert not dev.running
    assert np.all(dev.last_ao_V == 0.0)
    assert dev.written_until <= dev._pos or not dev._pending  # nothing left queued to deliver
    with open_recording(out) as rec:
        assert rec.n_sweeps == 5


def test_renderer_refuses_out_of_limit_pulses():
    wiring = OutputMap(ao_for_pathway=(0,), uA_per_V=(100.0,), n_ao=1, n_do=0)
    lim = StimLimits(max_intensity_uA=300.0, max_width_us=200.0, max_frequency_hz=200.0, max_charge_uC=0.05)
    fs = 20000.0
    ok = Stimulus(sample=10, pathway=0, kind="test", width_samples=2)
    ao, _ = render_block(0, 100, [(ok, 250.0)], [], np.zeros(0, np.uint8), wiring, fs, lim)
    assert ao[0, 10:12].tolist() == [2.5, 2.5] and ao[0, 12] == 0.0 and ao[0, 9] == 0.0
    for stim, uA in [
        (ok, 301.0),  # too strong
        (Stimulus(sample=10, pathway=0, kind="test", width_samples=6), 100.0),  # 300 µs > 200 µs
        (Stimulus(sample=0, pathway=0, kind="train", pulse_offsets=(0, 50), width_samples=2), 100.0),  # 400 Hz
        (ok, float("nan")),
    ]:
        with pytest.raises(StimulusLimitError):
            render_block(0, 100, [(stim, uA)], [], np.zeros(0, np.uint8), wiring, fs, lim)


def test_biphasic_pulse_is_charge_balanced_and_ends_at_zero():
    wiring = OutputMap(ao_for_pathway=(0,), uA_per_V=(100.0,), n_ao=1, n_do=0)
    s = Stimulus(sample=5, pathway=0, kind="test", width_samples=3, biphasic=True)
    ao, _ = render_block(0, 20, [(s, 200.0)], [], np.zeros(0, np.uint8), wiring, 20000.0, StimLimits())
    assert ao[0].sum() == 0.0
    assert ao[0, 5:8].tolist() == [2.0] * 3 and ao[0, 8:11].tolist() == [-2.0] * 3
    assert ao[0, 11:].tolist() == [0.0] * 9
