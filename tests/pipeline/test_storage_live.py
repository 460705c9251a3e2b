"""Live reading: `rig summary`, `rig analyze` and the reader follow a file while another process records it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rig.storage import open_recording
from tests.storage_helpers import SEED, short_protocol


def _lines(p: Path) -> int:
    return len(p.read_text().splitlines()) if p.exists() else 0


def _wait_lines(p: Path, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    t_end = time.monotonic() + timeout
    while (k := _lines(p)) < n:
        assert proc.poll() is None, "the recorder ended early"
        assert time.monotonic() < t_end, "the recorder made no progress"
        time.sleep(0.02)
    return k


def _rig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", *args], capture_output=True, text=True, timeout=120)


def test_summary_analyze_and_reader_follow_a_file_being_recorded(tmp_path):
    out, log = tmp_path / "live.h5", tmp_path / "live.log"
    # paced at 5x real time: the 2.3 min protocol would take ~28 s; we stop it with SIGTERM once checked
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.cli", "run", str(short_protocol(tmp_path)), "--speed", "5", "--seed",
         str(SEED), "--out", str(out), "--no-gui"],
        env={**os.environ, "RIG_SWEEP_LOG": str(log)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_lines(log, 5, proc)
        s = _rig("summary", str(out), "--json")
        assert s.returncode == 0, s.stderr
        s = json.loads(s.stdout)
        assert s["complete"] is False and s["stop_reason"] == "recording" and s["sweeps"] >= 5
        a = _rig("analyze", str(out), "--json")
        assert a.returncode == 0, a.stderr
        n_analyzed = len(json.loads(a.stdout)["sweeps"])
        assert n_analyzed >= 5
        with open_recording(out) as rec:
            n1 = rec.n_sweeps
            assert n1 >= 5 and rec.verify() == [] and not rec.complete
            _wait_lines(log, n1 + 5, proc)
            rec.refresh()
            assert rec.n_sweeps >= n1 + 5 and rec.verify() == []
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 130, proc.stderr.read()
            rec.refresh()
            assert rec.complete and rec.status["stop_reason"] == b"interrupted"
            assert rec.n_sweeps == _lines(log) > n_analyzed  # analyze read a file that was still growing
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert json.loads(_rig("summary", str(out), "--json").stdout)["complete"] is True
