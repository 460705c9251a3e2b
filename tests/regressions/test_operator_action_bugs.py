"""Regressions of operator actions (issue 16): no action silently cancels another. Each test
failed on the code before the fix."""

from __future__ import annotations

import threading

import tests.cl_harness as h
from drivers.sim.faults import FaultSlice
from rig.core.documents import Progress


def _paused_then(cmd: dict) -> h.Run:
    plan = h.make_plan([h.baseline(300, 1200), h.tbs(trains=1), h.follow_up(20)])
    ctl = h.Controller(plan, limits=h.LIMITS)
    seen = {"n": 0}
    stop = threading.Event()

    def operator(doc: object) -> None:
        if isinstance(doc, Progress) and doc.sample > 200 * h.FS:
            stop.set()  # 200 s of experiment time (sample clock), well inside the baseline
        if isinstance(doc, h.Measured):
            seen["n"] += 1
            if seen["n"] == 4:
                ctl.commands.put({"cmd": "pause", "source": "terminal"})
                ctl.commands.put({**cmd, "source": "terminal"})
            if seen["n"] > 4:  # a test pulse after the pause: the pause was cancelled
                seen.setdefault("pulses_while_paused", 0)
                seen["pulses_while_paused"] += 1

    model = FaultSlice(h.FS, 2, seed=3, cv=0.02, noise_uV=8.0)
    run = h.run(plan, model, controller=ctl, subscribers=[operator], stop=stop)
    run.seen = seen  # type: ignore[attr-defined]
    return run


def test_extend_baseline_during_a_pause_keeps_the_pause():
    run = _paused_then({"cmd": "extend_baseline", "data": {"seconds": 300.0}})
    ops = run.events("operator")
    assert [(e.data["cmd"], e.data["accepted"]) for e in ops] == [("pause", True), ("extend_baseline", True)]
    assert "stays paused" in ops[1].text
    assert run.events("paused") and not run.events("resumed")
    assert run.seen.get("pulses_while_paused", 0) == 0


def test_induce_now_during_an_operator_pause_is_refused_with_its_reason():
    run = _paused_then({"cmd": "induce_now"})
    ops = run.events("operator")
    assert [(e.data["cmd"], e.data["accepted"]) for e in ops] == [("pause", True), ("induce_now", False)]
    assert "paused" in ops[1].text and "resume first" in ops[1].text
    assert not [p for p in run.phases() if p.kind == "induction"]
