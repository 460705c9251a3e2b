"""Live reading: `rig summary` and the reader follow a file while another process records it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from storage_helpers import SEED, short_protocol

from rig.storage import open_recording


def _lines(p: Path) -> int:
    return len(p.read_text().splitlines()) if p.exists() else 0


def _wait_lines(p: Path, n: int, proc: subprocess.Popen, timeout: float = 120.0) -> int:
    t_end = time.monotonic() + timeout
    while (k := _lines(p)) < n:
        assert proc.poll() is None, "the recorder ended early"
        assert time.monotonic() < t_end, "the recorder made no progress"
        time.sleep(0.02)
    return k


def test_summary_and_reader_follow_a_file_being_recorded(tmp_path):
    out, log = tmp_path / "live.h5", tmp_path / "live.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.cli", "run", str(short_protocol(tmp_path)), "--speed", "25", "--seed",
         str(SEED), "--out", str(out), "--no-gui"],
        env={**os.environ, "RIG_SWEEP_LOG": str(log)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_lines(log, 5, proc)
        r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(out), "--json"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout)
        assert s["complete"] is False and s["stop_reason"] == "recording" and s["sweeps"] >= 5
        with open_recording(out) as rec:
            n1 = rec.n_sweeps
            assert n1 >= 5 and rec.verify() == [] and not rec.complete
            _wait_lines(log, n1 + 5, proc)
            rec.refresh()
            assert rec.n_sweeps >= n1 + 5 and rec.verify() == []
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
            rec.refresh()
            assert rec.complete and rec.n_sweeps == _lines(log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(out), "--json"],
                       capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout)["complete"] is True
