"""Issue 14, analysis versions: raw samples are the truth, measurements a versioned analysis of them.

Each test is named after the bug it guards against and failed on main before the change. Real
simulated runs (``run_experiment``, the code path of ``rig run``) and the real commands.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from rig import detector
from rig.core.documents import Progress
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml

FS = 20_000
FIXTURE_1_2 = ROOT / "tests" / "fixtures" / "recording_format_1_2.h5"


def rig(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> Path:
    """TBS run (2 min baseline, 3 min follow-up): the slope window set to 3–4 ms at 1 min (``set_windows``),
    the window's Re-analyse with 2.8–3.8 ms at 4 min."""
    tmp = tmp_path_factory.mktemp("versions")
    proto = tmp / "tbs.toml"
    # the operator's versions alone (auto windows off: they would add a version before the first one)
    proto.write_text(tbs_toml(2, 3, 10).replace("[stimulation]", "[analysis]\nauto_windows = false\n\n[stimulation]"))
    cmds: queue.Queue = queue.Queue()
    todo = [(60.0, {"cmd": "set_windows", "data": {"window": "slope", "new_ms": [3.0, 4.0]}}),
            (240.0, {"cmd": "reanalyse", "data": {"windows_ms": {"slope": [2.8, 3.8]}, "sweeps": 5}})]

    def send(doc: object) -> None:
        while todo and isinstance(doc, Progress) and doc.sample >= todo[0][0] * FS:
            cmds.put({**todo.pop(0)[1], "source": "test"})

    out = tmp / "changed.h5"
    run_experiment(RunOptions(protocol=proto, out=out, seed=7, speed=None, commands=cmds, subscribers=[send],
                              control=False, force_sim=True))
    return out


def _offline(rec, i: int, windows: dict) -> np.ndarray:
    """Sweep i measured from its raw samples with ``windows`` (ms)."""
    r = rec.sweep_table[i]
    w = detector.Windows.from_dict(windows)
    pulses = rec.pulse_samples(i) - r["start_sample"]
    scale = rec.sweep_scale(i, 0)
    return detector.measure_pulses(rec.sweep_mV(i, 0), pulses, rec.sample_rate_hz, w, 32767 * scale * 0.999)


def test_window_change_during_a_run_leaves_earlier_sweeps_measured_with_the_old_window(changed):
    """Every sweep of a version is measured with that version's windows (the baseline sweeps before
    the change included), and the file keeps each version's rows."""
    with open_recording(changed) as rec:
        v = rec.analyses
        assert [a["version"] for a in v] == [0, 1, 2]
        assert [a["source"] for a in v] == ["online", "set_windows", "reanalyse"]
        assert v[1]["windows"]["slope"] == [3.0, 4.0] and v[2]["windows"]["slope"] == [2.8, 3.8]
        assert v[1]["remeasured"] == v[1]["first_sweep"] >= 5  # every sweep recorded before the change
        assert v[2]["remeasured"] == v[2]["first_sweep"] >= 20
        assert rec.analysis == 2
        n = rec.n_sweeps
        for k in (1, 2):
            with open_recording(changed, k) as r2:
                m = r2.measurements
                last = n if k == 2 else v[2]["first_sweep"]
                assert sorted(set(m["sweep_index"].tolist())) == list(range(last))
                for i in range(last):
                    got = m[m["sweep_index"] == i]["slope_mV_per_ms"]
                    want = _offline(r2, i, v[k]["windows"])["slope_mV_per_ms"]
                    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
        online0 = rec.all_measurements[rec.all_measurements["analysis"] == 0]
        assert sorted(set(online0["sweep_index"].tolist())) == list(range(v[1]["first_sweep"]))


def test_summary_does_not_say_which_analysis_its_result_comes_from(changed):
    newest = json.loads(rig("summary", str(changed), "--json").stdout)
    first = json.loads(rig("summary", str(changed), "--json", "--analysis", "1").stdout)
    assert newest["analysis"]["version"] == 2 and newest["analysis"]["newest"]
    assert first["analysis"]["version"] == 1 and not first["analysis"]["newest"]
    assert newest["ltp_percent"] != first["ltp_percent"]
    text = rig("summary", str(changed)).stdout
    assert "analysis      version 2 of 0–2 (reanalyse" in text
    bad = rig("summary", str(changed), "--analysis", "7")
    assert bad.returncode == 2 and "no such analysis version" in bad.stderr and len(bad.stderr.splitlines()) == 1


def _frozen(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {"samples": f["samples"][:], "sweeps": f["sweeps"][:], "pulses": f["pulses"][:],
                "events": f["events"][:], "measurements": f["measurements"][:],
                "attrs": {k: str(v) for k, v in f.attrs.items()}}


def test_analyze_save_goes_nowhere(changed, tmp_path):
    """`rig analyze --save` adds a version; raw data and earlier versions are untouched; summary,
    export and report use it and say so."""
    rec_path = tmp_path / "saved.h5"
    shutil.copy(changed, rec_path)
    before = _frozen(rec_path)
    r = rig("analyze", str(rec_path), "--window", "slope=3.2:4.2", "--save", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["saved"]["version"] == 3
    after = _frozen(rec_path)
    for k in ("samples", "sweeps", "pulses"):  # byte for byte (NaN columns compare equal)
        assert before[k].tobytes() == after[k].tobytes()
    assert before["events"].tobytes() == after["events"][: len(before["events"])].tobytes()
    assert before["measurements"].tobytes() == after["measurements"][: len(before["measurements"])].tobytes()
    assert before["attrs"] == after["attrs"]
    s = json.loads(rig("summary", str(rec_path), "--json").stdout)
    assert s["analysis"]["version"] == 3 and s["analysis"]["source"] == "rig analyze"
    assert s["analysis"]["windows"]["slope"] == [3.2, 4.2]
    csv = tmp_path / "out.csv"
    e = rig("export", str(rec_path), "--csv", str(csv), "--json")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["analysis"]["version"] == 3
    assert csv.read_text().splitlines()[1].endswith(",3")
    e0 = rig("export", str(rec_path), "--csv", str(tmp_path / "v0.csv"), "--analysis", "0", "--json")
    assert json.loads(e0.stdout)["csv"]["analysis"] == 0


def test_analyze_save_of_a_format_1_2_recording(tmp_path):
    p = tmp_path / "old.h5"
    shutil.copy(FIXTURE_1_2, p)
    assert rig("analyze", str(p), "--window", "slope=2.8:3.8", "--save").returncode == 0
    old = json.loads(rig("summary", str(p), "--json", "--analysis", "0").stdout)
    new = json.loads(rig("summary", str(p), "--json").stdout)
    assert abs(old["ltp_percent"] - 107.86) < 0.05 and new["analysis"]["version"] == 1
    with open_recording(p) as rec:
        assert str(rec.attrs["format_version"]) == "1.2" and rec.n_sweeps == 31


def test_kill_during_analyze_save_loses_the_recording(changed, tmp_path):
    """kill -9 while `rig analyze --save` writes: the recording opens with its earlier versions."""
    p = tmp_path / "killed.h5"
    shutil.copy(changed, p)
    marker = tmp_path / "stall"
    env = {**os.environ, "RIG_SAVE_STALL": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "rig.cli", "analyze", str(p), "--window", "slope=3.2:4.2",
                             "--save"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not marker.exists():
            assert proc.poll() is None, "the save ended before the kill"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open_recording(p) as rec:
        assert [a["version"] for a in rec.analyses] == [0, 1, 2] and rec.complete
    assert rig("analyze", str(p), "--window", "slope=3.2:4.2", "--save").returncode == 0  # a leftover is no obstacle
    with open_recording(p) as rec:
        assert [a["version"] for a in rec.analyses] == [0, 1, 2, 3]
    assert not list(tmp_path.glob(".killed.h5.*"))
