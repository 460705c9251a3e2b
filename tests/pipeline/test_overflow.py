"""A reader that falls behind the board's host buffer loses samples (NI −200279 in the simulator):
the loss is counted and recorded as a gap, no sweep with missing samples is stored, the run goes on."""

from __future__ import annotations

import time

import numpy as np

from drivers.sim.device import SimDevice
from drivers.sim.simple_slice import SimpleSlice
from rig.core.documents import Sweep
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import baseline_toml

PROTO = baseline_toml(0.1, 0.5, name="overflow") + '\n[alarms]\nstimulus_missed_action = "continue"\n'


def test_sim_device_overflows_when_read_too_late():
    dev = SimDevice(SimpleSlice(20000.0), block_samples=1000, speed=1.0, buffer_s=0.2)
    dev.start()
    first = dev.read()
    assert first.start == 0 and first.gap == 0
    time.sleep(0.5)  # the buffer holds 0.2 s: at least 0.3 s are overwritten
    blk = dev.read()
    assert blk.gap >= 0.25 * 20000 and blk.start == 1000 + blk.gap
    assert dev.overflows == 1
    assert dev.read().start == blk.start + 1000  # contiguous again


def test_engine_records_the_gap_and_keeps_only_whole_sweeps(tmp_path, monkeypatch):
    p = tmp_path / "o.toml"
    p.write_text(PROTO)

    import rig.experiment.assemble as assemble

    real = assemble.make_sim_device

    def small_buffer(*a, **k):
        d = real(*a, **k)
        d.buffer_samples = int(0.2 * d.sample_rate_hz)
        return d

    monkeypatch.setattr(assemble, "make_sim_device", small_buffer)
    stalled = []

    def slow_consumer(doc):  # a subscriber that stalls once, as a blocked disk or display would
        if isinstance(doc, Sweep) and doc.index == 2 and not stalled:
            stalled.append(1)
            time.sleep(0.8)

    res = run_experiment(RunOptions(protocol=p, out=tmp_path / "o.h5", speed=1.0, subscribers=[slow_consumer]))
    assert res.stop.reason == "incomplete"  # the run goes on, but stimuli in the gap were lost
    with open_recording(res.path) as rec:
        assert rec.status["gaps"] >= 1 and rec.status["lost_samples"] > 0
        gaps = [e for e in rec.events if e["kind"] == "gap"]
        assert gaps and gaps[0]["data"]["samples"] > 0
        g0 = gaps[0]["sample"]
        g1 = g0 + gaps[0]["data"]["samples"]
        t = rec.sweep_table
        ends = t["start_sample"] + t["n_samples"]
        assert not np.any((t["start_sample"] < g1) & (ends > g0))  # no stored sweep spans the gap
        assert rec.n_sweeps >= 6
