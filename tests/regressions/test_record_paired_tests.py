"""Issue 14: test pulses could not be paired, and `rig summary` ignored the paired-pulse ratio.

Named after the bug; failed on main (``paired_interval_ms`` was an unknown key). A real simulated
run (`rig run --sim --speed max` as a subprocess) and the real commands.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml


def rig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.fixture(scope="module")
def paired(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("paired")
    proto = tmp / "paired.toml"
    text = tbs_toml(2.0, 3.0, 10.0).replace("width_us = 100.0", "width_us = 100.0\npaired_interval_ms = 50.0")
    proto.write_text(text)
    out = tmp / "paired.h5"
    r = rig("run", str(proto), "--sim", "--speed", "max", "--seed", "2", "--no-gui", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def test_test_pulses_cannot_be_paired(paired):
    with open_recording(paired) as rec:
        st = rec.sweep_table
        tests = np.flatnonzero(st["kind"] == b"test")
        assert len(tests) >= 25 and np.all(st["n_pulses"][tests] == 2)
        for i in tests[:5]:
            p = rec.pulse_samples(i)
            assert p[1] - p[0] == 1000  # 50 ms at 20 kHz
        m = rec.measurements
        assert all(np.sum(m["sweep_index"] == i) == 2 for i in tests)


def test_summary_ignores_the_paired_pulse_ratio(paired):
    s = json.loads(rig("summary", str(paired), "--json").stdout)
    d = s["ppr"]["0"]
    assert d["interval_ms"] == 50.0 and d["n"] >= 25
    assert 1.2 < d["baseline_mean"] < 2.0 and d["last_10min_mean"] is not None
    assert len(d["time_s"]) == len(d["ppr"]) == d["n"]
    assert "PPR S1        paired pulses 50 ms apart" in rig("summary", str(paired)).stdout


def test_export_has_no_paired_pulse_ratio(paired, tmp_path):
    out = tmp_path / "p.csv"
    assert rig("export", str(paired), "--csv", str(out)).returncode == 0
    rows = list(csv.DictReader(out.open()))
    vals = [float(r["paired_pulse_ratio"]) for r in rows if r["sweep_kind"] == "test" and r["paired_pulse_ratio"]]
    assert len(vals) >= 25 and 1.0 < np.median(vals) < 2.2
    assert all(r["paired_pulse_ratio"] == "" for r in rows if r["sweep_kind"] == "train")


def test_window_time_course_has_no_ppr(paired):
    """The window's model (fed the recording's documents as the live feed would) holds the PPR."""
    from rig.core.documents import Measured
    from rig.display.model import DisplayModel

    with open_recording(paired) as rec:
        model = DisplayModel()
        model.fs = rec.sample_rate_hz
        docs = []
        for i in np.flatnonzero(rec.sweep_table["kind"] == b"test")[:6]:
            r = rec.sweep_table[i]
            rows = rec.measurements[rec.measurements["sweep_index"] == i]
            docs.append(Measured(int(i), int(r["pathway"]), int(r["phase"]), int(r["stim_sample"]), rows))
            model.apply(docs[-1])
    tc = model.time_course[0]
    assert tc.n == 6 and np.all((tc["ppr"] > 1.0) & (tc["ppr"] < 2.2))
    # a new analysis version's re-measured sweep replaces its point (slope and PPR)
    rows = docs[2].records.copy()
    rows["slope_mV_per_ms"] = [-0.5, -0.75]
    model.apply(Measured(docs[2].sweep_index, 0, docs[2].phase, docs[2].sample, rows, analysis=1, remeasure=True))
    assert tc.n == 6 and tc["slope"][2] == -0.5 and tc["ppr"][2] == 1.5
