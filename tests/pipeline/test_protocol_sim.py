"""Every shipped protocol runs in the simulator: a scaled-down copy of its plan (each phase cut
to a few test pulses or its first stimuli) goes through the real engine, renderer and SimDevice."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import numpy as np
import pytest

from rig.cli import main
from rig.closed_loop.controller import Controller
from rig.core.documents import RunStop, Sweep
from rig.core.plan import Phase, Plan, ValveChange
from rig.engine import ChannelScaling, Engine
from rig.experiment.assemble import make_device
from rig.protocol.load import expand, load_protocol
from rig.protocol.perfusion import bath_schedule, valve_contents
from rig.protocol.rigfile import load_rig
from tests.conftest import PROTOCOLS
from tests.unit.test_protocol_plans import SHIPPED


def shorten(plan: Plan, seconds: float = 25.0, n_stimuli: int = 2) -> Plan:
    """Each phase cut to ``seconds`` (test pulses) or its first ``n_stimuli`` stimuli."""
    fs = plan.sample_rate_hz
    out = []
    for p in plan.phases:
        if p.stimuli:
            stims = p.stimuli[:n_stimuli]
            dur = min(p.duration_samples, stims[-1].sweep_bounds()[1] + int(0.5 * fs))
        else:
            stims, dur = (), min(p.duration_samples, int(seconds * fs))
        valves = tuple(v if v.sample < dur else ValveChange(dur - 1, v.line, v.state) for v in p.valves)
        out.append(replace(p, duration_samples=dur, stimuli=stims, valves=valves, max_duration_samples=None))
    return replace(plan, phases=tuple(out))


def planned_sweeps(plan: Plan) -> list[tuple[int, int, str]]:
    """(absolute stimulus sample, pathway, kind) of every sweep the plan records."""
    out = []
    for t, p in zip(plan.phase_starts(), plan.phases, strict=True):
        if p.test is not None:
            out += [(t + s, pw, "test") for s, pw in p.test.pulse_times(0, p.duration_samples)]
        out += [(t + s.sample, s.pathway, s.kind) for s in p.stimuli]
    return sorted(out)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_protocol_runs_in_the_simulator(name):
    rig, _ = load_rig(None)
    proto, _ = load_protocol(PROTOCOLS / f"{name}.toml")
    plan = shorten(expand(proto, rig, name))
    dev = make_device(rig, plan, seed=1, speed=None)
    written_do = []
    write = dev.write

    def spy(start, ao, do):
        written_do.append((start, do.copy()))
        return write(start, ao, do)

    dev.write = spy
    docs: list = []
    scaling = ChannelScaling([a.range_V for a in rig.ai][:1], [a.gain for a in rig.ai][:1])
    eng = Engine(dev, Controller(plan), rig.output_map(), rig.stim_limits(), scaling, [docs.append],
                 horizon_samples=int(0.3 * rig.sample_rate_hz), seed=1)
    stop = eng.run(threading.Event())
    assert isinstance(stop, RunStop) and stop.reason == "completed", stop
    sweeps = [d for d in docs if isinstance(d, Sweep)]
    assert [(s.stim_sample, s.pathway, s.kind) for s in sweeps] == planned_sweeps(plan)
    for s in sweeps:  # whole sweeps around the pulses, holding a response (negative fEPSP)
        n = plan.sweep_pre_samples + int(s.pulse_samples[-1] - s.stim_sample) + plan.sweep_post_samples
        assert s.counts.shape[1] == n
        if s.kind == "test":  # fEPSP trough 4–8 ms after the pulse, well below the pre-stimulus baseline
            pre, x = plan.sweep_pre_samples, s.counts[0].astype(float)
            assert x[pre + 80: pre + 160].mean() - x[: pre - 10].mean() < -300
    # drug valves: high from the drug phase start to the end (or to the chemical phase's last sample)
    do = np.concatenate([d for _, d in written_do], axis=1) if rig.do_lines else None
    starts = plan.phase_starts()
    for t, p in zip(starts, plan.phases, strict=True):
        if p.kind == "drug" and p.info["valve_line"] is not None:
            line = p.info["valve_line"]
            assert (t == 0 or do[line, t - 1] == 0) and np.all(do[line, t: plan.duration_samples] == 1)
        if p.kind == "chemical":
            line = p.info["valve_line"]
            assert np.all(do[line, t: t + p.duration_samples - 1] == 1) and do[line, t + p.duration_samples] == 0


def test_what_the_simulated_slice_is_told_about_drugs():
    rig, _ = load_rig(None)
    plans = {n: expand(load_protocol(PROTOCOLS / f"{n}.toml")[0], rig, n)
             for n in ("basimglurant_tbs", "mpep_tbs", "dhpg_ltd", "tbs_ltp")}
    assert valve_contents(plans["basimglurant_tbs"]) == [(0, "basimglurant", 0.1)]
    assert valve_contents(plans["mpep_tbs"]) == [(0, "MPEP", 40.0)]
    assert valve_contents(plans["dhpg_ltd"]) == [(0, "DHPG", 100.0)]
    assert valve_contents(plans["tbs_ltp"]) == []
    fs = 20_000
    assert bath_schedule(plans["dhpg_ltd"]) == [(20 * 60 * fs, 25 * 60 * fs, "DHPG", 100.0)]
    assert bath_schedule(plans["mpep_tbs"]) == [(0, None, "MPEP", 40.0)]


def test_bath_schedule_follows_washout():
    p = Plan("x", 1000.0, (
        Phase("d", "drug", 100, info={"drug": "MPEP", "concentration_uM": 10.0, "valve_line": None}),
        Phase("w", "washout", 50, info={"drugs": [{"drug": "MPEP"}]}),
    ))
    assert bath_schedule(p) == [(0, 100, "MPEP", 10.0)] and valve_contents(p) == []


def test_paired_pulse_protocol_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "pp.h5"
    code = main(["run", str(PROTOCOLS / "paired_pulse.toml"), "--sim", "--speed", "max", "--no-gui", "--json",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["sweeps"] == 18 and out.exists()
