"""A paced run finishes (issue 20): start-up work made lazy must never land inside the paced loop.

A module imported, or a jitted kernel loaded, on first use *after* the device's clock started
stalls a paced run while the board keeps sampling: the host buffer overflows and the run falls
behind (a lazy ``rig.detector`` once made paced runs hang in the engine's write-ahead). Everything
is loaded before ``Device.start`` (``rig.core.jit.load_numba``, the detector's and the simulated
board's kernels). Fresh interpreters, as a user types the command. The machine may be loaded:
generous timeouts, no assertion on time, and a run that a loaded machine made miss stimuli
(``aborted`` by the stimulus_missed alarm) has finished too — what must never happen is a hang
or a file left open.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rig.storage import open_recording
from tests.conftest import baseline_toml, tbs_toml

ROOT = Path(__file__).resolve().parents[2]
FINISHED = {b"completed", b"aborted", b"incomplete"}


def _rig_run(tmp_path: Path, text: str, speed: str, name: str) -> tuple[subprocess.CompletedProcess, Path]:
    proto = tmp_path / f"{name}.toml"
    proto.write_text(text)
    out = tmp_path / f"{name}.h5"
    r = subprocess.run([sys.executable, "-m", "rig.cli", "run", str(proto), "--sim", "--speed", speed, "--seed", "1",
                        "--no-gui", "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    return r, out


@pytest.mark.slow
@pytest.mark.parametrize("speed", ["50", "20"])
def test_a_paced_run_in_a_fresh_interpreter_finishes(tmp_path, speed):
    r, out = _rig_run(tmp_path, baseline_toml(0.5, 2.0, name=f"paced {speed}"), speed, f"paced{speed}")
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    with open_recording(out) as rec:
        assert rec.complete, r.stderr  # closed cleanly
        assert bytes(rec.status["stop_reason"]) in FINISHED, (rec.status["stop_reason"], r.stderr)
        assert int(rec.status["samples"]) > 0


@pytest.mark.slow
def test_a_paced_run_with_an_induction_finishes(tmp_path):
    r, out = _rig_run(tmp_path, tbs_toml(0.3, 0.3, 5.0, bursts=3), "50", "paced_tbs")
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    with open_recording(out) as rec:
        assert rec.complete, r.stderr
        assert bytes(rec.status["stop_reason"]) in FINISHED, (rec.status["stop_reason"], r.stderr)
