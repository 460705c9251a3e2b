"""Regressions of issue 17 (High): a NaN, inf, huge or ill-typed operator command ended the run
(exit 1, no operator event). Each test failed on the code before the fix."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import tests.cl_harness as h
from rig.closed_loop.controller import Controller
from rig.experiment.control_server import request
from rig.storage import open_recording
from tests.hostile_run import ROOT, LiveRun


def _ctl(endpoint, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", "ctl", "--endpoint", str(endpoint), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_nan_intensity_is_refused_and_the_run_goes_on(tmp_path):
    run = LiveRun(tmp_path, minutes=30.0, speed=10.0)  # stopped by the test once attacked
    try:
        ep = run.wait_endpoint()
        replies = [_ctl(run.endpoint, "intensity", "S1", v) for v in ("nan", "inf", "-inf", "1e308")]
        raw = [request(ep, {**body, "token": ep["token"]}) for body in (
            {"cmd": "extend_baseline", "data": {"seconds": "abc"}},
            {"cmd": "intensity", "pathway": 0, "delta_uA": float("nan")},
            {"cmd": "intensity", "pathway": True, "delta_uA": 5},
            {"cmd": "intensity", "pathway": "0", "delta_uA": "5"},
        )]
        ok = _ctl(run.endpoint, "intensity", "S1", "-10")  # a negative delta needs no "--"
        alive = request(ep, {"cmd": "status", "token": ep["token"]})
        request(ep, {"cmd": "stop", "token": ep["token"]})
        rc, out, err = run.finish()
    finally:
        run.kill()
    assert alive["ok"], alive
    assert rc == 130, err  # stopped by the operator, not aborted by a bad command
    assert "interrupted by stop" in err
    assert all(r.returncode != 0 for r in replies), [r.stderr for r in replies]
    assert all(r.stderr.strip().count("\n") == 0 for r in replies)  # one line, no traceback
    assert all(not r["ok"] for r in raw), raw
    assert ok.returncode == 0, ok.stderr
    assert "Traceback" not in err
    with open_recording(run.out) as rec:
        assert rec.complete
        ops = [e["data"] for e in rec.events if e["kind"] == "operator"]
        sets = [e["data"] for e in rec.events if e["kind"] == "intensity_set"]
    assert [o["accepted"] for o in ops if o["cmd"] == "intensity"][-1] is True
    assert [s["intensity_uA"] for s in sets] == [90.0]  # only the -10 µA step took effect


def test_controller_refuses_bad_values_without_raising():
    c = Controller(h.make_plan([h.baseline(60, 120), h.tbs(trains=1), h.follow_up(30)]), limits=h.LIMITS)
    c.schedule(int(1 * h.FS))
    before = list(c.intensity_uA)
    bad = [
        {"cmd": "intensity", "pathway": 0, "delta_uA": math.nan},
        {"cmd": "intensity", "pathway": 0, "delta_uA": math.inf},
        {"cmd": "intensity", "pathway": 0, "delta_uA": 1e308},
        {"cmd": "intensity", "pathway": 0, "delta_uA": "5"},
        {"cmd": "intensity", "pathway": 7, "delta_uA": 5},
        {"cmd": "intensity", "pathway": 0.5, "delta_uA": 5},
        {"cmd": "extend_baseline", "data": {"seconds": "abc"}},
        {"cmd": "extend_baseline", "data": {"seconds": math.nan}},
        {"cmd": "extend_baseline", "data": "300"},
    ]
    for cmd in bad:
        c.commands.put({**cmd, "source": "ctl"})
    docs = c.poll(5000)
    ops = [d for d in docs if d.kind == "operator"]
    assert len(ops) == len(bad) and not any(d.data["accepted"] for d in ops)
    assert all("refused" in d.text for d in ops)
    assert c.intensity_uA == before and c.stop_request is None
    assert all(json.dumps(d.data, allow_nan=False) for d in ops)  # the record stays valid JSON
