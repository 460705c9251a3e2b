"""The closed loop end to end: simulated slices with known parameters through the real engine."""

from __future__ import annotations

import numpy as np
import pytest

import tests.cl_harness as h
from drivers.sim.faults import FaultSlice
from rig.core.documents import Sweep

IO_UA = [20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 250, 300]


def quiet_slice(**kw) -> FaultSlice:
    """Two electrodes, low measurement noise (slope CV ≈ 3 %): a few minutes of baseline judge drift."""
    return FaultSlice(h.FS, 2, seed=kw.pop("seed", 3), cv=0.02, noise_uV=8.0, **kw)


def sweeps(run: h.Run, kind: str | None = None) -> list[Sweep]:
    return [d for d in run.docs if isinstance(d, Sweep) and (kind is None or d.kind == kind)]


def test_io_curve_sets_each_pathway_within_5_percent_of_the_analytic_target():
    model = quiet_slice(i50_uA=[120.0, 180.0], io_slope_uA=[30.0, 40.0])
    plan = h.make_plan([h.io_phase(IO_UA, pathways=(0, 1)), h.follow_up(30, pathways=(0, 1))], pathways=(0, 1))
    run = h.run(plan, model)
    assert run.stop.reason == "completed"
    fits = run.events("io_fit")
    sets = {e.data["pathway"]: e for e in run.events("intensity_set")}
    assert len(fits) == 2 and set(sets) == {0, 1}
    for pw in (0, 1):
        target = model.target_intensity(pw, 0.40)
        chosen = sets[pw].data["intensity_uA"]
        assert abs(chosen - target) <= 0.05 * target, (pw, chosen, target)
        assert chosen == round(chosen)  # isolator resolution 1 µA
        fit = next(e for e in fits if e.data["pathway"] == pw).data
        assert fit["fit"]["ok"] and fit["fit"]["r2"] > 0.95
        assert len(fit["means"]) == len(IO_UA)
        # the follow-up test pulses use the chosen intensity
        tests = [s for s in sweeps(run, "test") if s.pathway == pw]
        assert tests and all(s.intensity_uA == chosen for s in tests)


def test_below_pop_spike_rule_uses_the_detected_threshold():
    model = quiet_slice(pop_spike_uA=200.0)
    rule = {"rule": "below_pop_spike", "margin_percent": 10}
    plan = h.make_plan([h.io_phase(IO_UA, rule=rule), h.follow_up(10)])
    run = h.run(plan, model)
    fit = run.events("io_fit")[0].data
    assert fit["pop_spike_threshold_uA"] == 200.0
    ev = run.events("intensity_set")[0]
    assert ev.data["intensity_uA"] == 180.0 and "pop-spike" in ev.text


def test_chosen_intensity_is_clamped_to_the_rig_limit():
    model = quiet_slice(i50_uA=700.0, io_slope_uA=60.0)  # 40 % of max at ≈ 676 µA
    plan = h.make_plan([h.io_phase([100, 200, 300, 400, 500, 600, 700, 800]), h.follow_up(10)])
    ctl = h.Controller(plan, limits=h.StimLimits(500.0, 500.0, 200.0, 5.0, 0.25))
    run = h.run(plan, model, controller=ctl)
    ev = run.events("intensity_set")[0]
    assert ev.data["intensity_uA"] == 500.0 and ev.data["clamped"]


def test_stable_slice_induces_at_the_minimum_baseline():
    plan = h.make_plan([h.baseline(360, 720), h.tbs(trains=1), h.follow_up(30)])
    run = h.run(plan, quiet_slice())
    assert run.stop.reason == "completed"
    assert not run.events("baseline_extended")
    stable = run.events("baseline_stable")
    assert len(stable) == 1 and stable[0].sample == int(360 * h.FS)
    induction = [p for p in run.phases() if p.kind == "induction"]
    assert induction and induction[0].sample == int(360 * h.FS)
    assert run.events("induction")


def test_rundown_extends_the_baseline_and_abort_stops_before_induction_with_outputs_zeroed():
    plan = h.make_plan([h.baseline(360, 540, on_unstable="abort"), h.tbs(), h.follow_up(60)])
    run = h.run(plan, quiet_slice(rundown_percent_per_min=4.0))
    ext = run.events("baseline_extended")
    assert len(ext) >= 3
    assert run.events("baseline_unstable")[0].data["action"] == "abort"
    assert run.stop.reason == "aborted"
    assert not run.events("induction") and not sweeps(run, "train")
    assert not [p for p in run.phases() if p.kind == "induction"]
    assert run.stop.sample <= int(540 * h.FS) + int(1 * h.FS)  # ended at the baseline's maximum
    zeroed = run.events("outputs_zeroed")
    assert zeroed[-1].text == "aborted"
    assert run.device.zeroed_count >= 1 and not np.any(run.device.last_ao_V)


def test_rundown_with_proceed_induces_at_the_maximum():
    plan = h.make_plan([h.baseline(360, 420, on_unstable="proceed"), h.tbs(trains=1), h.follow_up(20)])
    run = h.run(plan, quiet_slice(rundown_percent_per_min=4.0))
    assert run.stop.reason == "completed"
    assert run.events("baseline_unstable")[0].data["action"] == "proceed"
    induction = [p for p in run.phases() if p.kind == "induction"]
    assert induction[0].sample == int(420 * h.FS)


def _pct(run: h.Run, pw: int, phase_kind: str, after: int = -1) -> np.ndarray:
    idx = {p.index for p in run.phases() if p.kind == phase_kind}
    tests = {s.index for s in sweeps(run, "test")}
    return np.array([float(m.records[0]["slope_mV_per_ms"]) for m in run.measured
                     if m.pathway == pw and m.phase in idx and m.sweep_index in tests and m.sample > after])


def _windows_at(run: h.Run, sample: int, first):
    """The detector windows in use for a sweep at ``sample`` (the run's first, then each windows event)."""
    from rig import detector

    w = first
    for e in run.events("windows"):
        if e.sample <= sample:
            w = detector.Windows.from_dict(e.data["windows"])
    return w


@pytest.fixture(scope="module")
def two_pathway_run() -> h.Run:
    """I/O curve on both pathways → gated baseline (S1/S2 alternating) → TBS on S1 → follow-up."""
    plan = h.make_plan([h.io_phase(IO_UA[::2] + [300], pathways=(0, 1)), h.baseline(360, 720, pathways=(0, 1)),
                        h.tbs(0, trains=3), h.follow_up(240, pathways=(0, 1))], pathways=(0, 1),
                       closed_loop={"alarms": {"volley_change": {"enabled": True}}})  # every alarm on
    return h.run(plan, quiet_slice(i50_uA=[120.0, 150.0]))


def test_two_pathway_tbs_potentiates_s1_only(two_pathway_run):
    run = two_pathway_run
    assert run.stop.reason == "completed"
    sets = {e.data["pathway"]: e.data["intensity_uA"] for e in run.events("intensity_set")}
    assert sets[0] != sets[1]  # independent intensities
    assert run.events("baseline_stable") and set(run.events("baseline_stable")[0].data) == {"S1", "S2"}
    s1 = _pct(run, 0, "follow_up")[-20:].mean() / _pct(run, 0, "baseline").mean() * 100
    s2 = _pct(run, 1, "follow_up")[-20:].mean() / _pct(run, 1, "baseline").mean() * 100
    assert s1 > 130, s1
    assert 92 < s2 < 108, s2
    ind = run.events("induction")[0]
    assert ind.data["pathways"] == [0]


def test_no_alarm_on_a_clean_run(two_pathway_run):
    assert two_pathway_run.events("alarm") == []
    assert two_pathway_run.events("operator_refused") == []


# -- alarms ------------------------------------------------------------------------------------
def _alarm_run(fault: dict, alarms: dict | None = None, device_kw: dict | None = None, **dev) -> h.Run:
    plan = h.make_plan([h.follow_up(150)], closed_loop={"alarms": alarms or {}})
    return h.run(plan, quiet_slice(**fault), device_kw=device_kw, **dev)


@pytest.mark.parametrize(
    ("name", "fault"),
    [
        ("response_lost", {"lost_after_s": 80.0}),
        ("noise", {"noise_burst": (80.0, 110.0, 300.0)}),
        ("saturation", {"saturate_after_s": 80.0}),
        ("volley_change", {"volley_change": (80.0, 0.3)}),
    ],
)
def test_each_alarm_fires_on_its_fault_only(name, fault):
    if name == "volley_change":
        from rig import detector

        if "volley_mV" not in detector.MEASUREMENT_DTYPE.names:
            pytest.skip("this detector does not measure the fiber volley")
    run = _alarm_run(fault, {"volley_change": {"enabled": True}})
    alarms = run.events("alarm")
    assert [a.data["alarm"] for a in alarms][:1] == [name], [a.text for a in alarms]
    assert alarms[0].sample >= int(80 * h.FS)
    assert alarms[0].data["action"] == "continue" and run.stop.reason == "completed"


def test_gap_alarm_fires_on_lost_samples():
    from drivers.sim.faults import GappyDevice

    run = _alarm_run({}, device_cls=GappyDevice, device_kw={"drop_at": [int(60 * h.FS)]})
    alarms = run.events("alarm")
    assert [a.data["alarm"] for a in alarms] == ["gap"]
    assert alarms[0].data["samples"] == run.device.dropped == 1000


def test_alarm_action_stop_ends_the_run_with_outputs_zeroed():
    run = _alarm_run({"lost_after_s": 60.0}, {"response_lost": {"action": "stop"}})
    assert run.stop.reason == "aborted" and "response_lost" in run.stop.message
    assert run.stop.sample < int(90 * h.FS)
    assert not np.any(run.device.last_ao_V)


def test_alarm_action_pause_stops_stimulation():
    run = _alarm_run({"noise_burst": (60.0, 200.0, 300.0)}, {"noise": {"action": "pause"}})
    alarm = run.events("alarm")[0]
    assert run.events("paused")
    late = [s for s in sweeps(run, "test") if s.stim_sample > alarm.sample + int(1 * h.FS)]
    assert late == []


# -- tracking and operator ---------------------------------------------------------------------
def test_tracking_holds_the_response_during_baseline_and_freezes_before_induction():
    plan = h.make_plan([h.baseline(300, 300, stability={"max_drift_percent_per_10min": 100,
                                                         "max_halves_diff_percent": 100, "window_min": 5}),
                        h.tbs(trains=1), h.follow_up(60)],
                       closed_loop={"tracking": {"enabled": True, "every_sweeps": 4, "max_step_uA": 10}})
    run = h.run(plan, quiet_slice(rundown_percent_per_min=3.0))
    tracked = [e for e in run.events("intensity_set") if e.data["rule"] == "tracking"]
    assert tracked and tracked[-1].data["intensity_uA"] > 100.0  # raised against the rundown
    frozen = run.events("tracking_frozen")
    assert len(frozen) == 1 and all(e.sample < frozen[0].sample for e in tracked)
    changed = [e.sample for e in run.events("windows")]  # the auto windows: tracking restarts there
    base = _pct(run, 0, "baseline", after=changed[-1] if changed else -1)
    assert abs(base[-6:].mean() / base[:6].mean() - 1) < 0.10  # held within 10 % despite 15 % rundown


def test_operator_induce_now_ends_a_gated_baseline_and_every_command_is_recorded():
    plan = h.make_plan([h.baseline(600, 1200), h.tbs(trains=1), h.follow_up(20)])
    q = h.Controller(plan, limits=h.LIMITS)
    seen = {"n": 0}

    def operator(doc: object) -> None:
        if isinstance(doc, h.Measured):
            seen["n"] += 1
            if seen["n"] == 10:
                q.commands.put({"cmd": "mark", "text": "drug ok", "source": "gui"})
                q.commands.put({"cmd": "induce_now", "source": "terminal"})

    run = h.run(plan, quiet_slice(), controller=q, subscribers=[operator])
    ops = run.events("operator")
    assert [(e.data["cmd"], e.data["source"], e.data["accepted"]) for e in ops] == [
        ("mark", "gui", True), ("induce_now", "terminal", True)]
    ind = [p for p in run.phases() if p.kind == "induction"][0]
    assert ind.sample < int(60 * h.FS)  # well before the 10-min minimum
    assert ind.sample >= ops[1].sample  # never in the past: at the first sample not yet written


def test_gate_pause_waits_for_the_operator_then_resume_continues():
    plan = h.make_plan([h.baseline(360, 400, on_unstable="pause"), h.tbs(trains=1), h.follow_up(20)])
    ctl = h.Controller(plan, limits=h.LIMITS)
    state = {"sent": False}

    def operator(doc: object) -> None:
        if isinstance(doc, h.Event) and doc.kind == "paused" and not state["sent"]:
            state["sent"] = True
            ctl.commands.put({"cmd": "mark", "text": "operator looked at the baseline", "source": "gui"})
            ctl.commands.put({"cmd": "resume", "source": "gui"})

    run = h.run(plan, quiet_slice(rundown_percent_per_min=4.0), controller=ctl, subscribers=[operator])
    unstable = run.events("baseline_unstable")
    assert unstable and unstable[0].data["action"] == "pause"
    assert run.stop.reason == "completed"
    ind = [p for p in run.phases() if p.kind == "induction"][0]
    resume = [e for e in run.events("operator") if e.data["cmd"] == "resume"][0]
    assert ind.sample >= resume.data["effective_sample"] >= unstable[0].sample
    assert [e.data["text"] for e in run.events("operator") if e.data["cmd"] == "mark"] == [
        "operator looked at the baseline"]
    order = [e.kind for e in run.events() if e.kind in ("paused", "resumed")]
    assert order == ["paused", "resumed"] and run.events("paused")[0].cause == "gate"
    assert sweeps(run, "train")


def test_bench_loop_reports_latency_and_horizon():
    from rig.bench.loop_latency import bench_loop

    r = bench_loop(speed=None)
    assert r["loop_stop_reason"] == "completed" and r["loop_decisions"] > 50
    assert 0 < r["loop_latency_ms_p50"] <= r["loop_latency_ms_p99"] <= r["loop_latency_ms_max"]
    # decisions act on the first sample not yet written: the horizon minus at most one block
    assert r["output_horizon_configured_ms"] - r["loop_block_ms"] <= r["output_horizon_ms"]
    assert r["output_horizon_ms"] <= r["output_horizon_configured_ms"]


def test_rig_summary_lists_the_decisions(tmp_path):
    from drivers.sim.faults import GappyDevice
    from rig.analysis.summary import summarize
    from rig.storage import RecordingWriter, open_recording

    plan = h.make_plan([h.io_phase(IO_UA[::2] + [300]), h.baseline(360, 400, on_unstable="proceed"),
                        h.tbs(trains=1), h.follow_up(60)])
    ctl = h.Controller(plan, limits=h.LIMITS)
    ctl.commands.put({"cmd": "mark", "text": "slice looks healthy", "source": "ctl"})
    writer = RecordingWriter(tmp_path / "r.h5", 1, {})
    try:
        h.run(plan, quiet_slice(rundown_percent_per_min=4.0), controller=ctl, subscribers=[writer],
              device_cls=GappyDevice, device_kw={"drop_at": [int(470 * h.FS)]})
    finally:
        writer.close()
    with open_recording(tmp_path / "r.h5") as rec:
        s = summarize(rec)
        data = {e["kind"]: e["data"] for e in rec.events}
    kinds = {e["kind"] for e in s["events"]}
    assert {"io_fit", "intensity_set", "baseline_extended", "baseline_unstable", "induction", "alarm",
            "operator"} <= kinds
    assert data["io_fit"]["fit"]["ok"] and len(data["io_fit"]["points"]) == 14  # stored whole, valid JSON
    assert data["operator"]["source"] == "ctl"


def test_drug_phase_after_an_extended_baseline_switches_its_valve_on_the_sample_clock():
    from rig.core.plan import Phase, ValveChange

    class TtlLog(FaultSlice):
        on_at: int | None = None
        off_at: int | None = None

        def respond(self, start, stim_uA, ttl):
            if ttl.shape[0]:
                idx = np.flatnonzero(np.diff(np.concatenate(([self.__dict__.get("_prev_ttl", 0)], ttl[0]))))
                for i in idx:
                    if ttl[0, i]:
                        self.on_at = self.on_at if self.on_at is not None else start + int(i)
                    else:
                        self.off_at = start + int(i)
                self._prev_ttl = int(ttl[0, -1])
            return super().respond(start, stim_uA, ttl)

    drug = Phase("MPEP", "drug", int(60 * h.FS), test=h.test_schedule(), valves=(ValveChange(0, 0, 1),),
                 info={"drug": "MPEP", "concentration_uM": 10.0})
    wash = Phase("washout", "washout", int(30 * h.FS), test=h.test_schedule(), valves=(ValveChange(0, 0, 0),),
                 info={"drugs": [{"drug": "MPEP"}]})
    plan = h.make_plan([h.baseline(360, 420, on_unstable="proceed"), drug, wash])
    model = TtlLog(h.FS, 2, seed=3, cv=0.02, noise_uV=8.0, rundown_percent_per_min=4.0)
    run = h.run(plan, model, n_do=1)
    start = [p for p in run.phases() if p.kind == "drug"][0].sample
    assert start == int(420 * h.FS)  # after the extended baseline, not at the planned 360 s
    assert model.on_at == start and model.off_at == start + int(60 * h.FS)
    valves = run.events("valve")
    assert [(e.sample, e.data["state"]) for e in valves] == [(start, 1), (start + int(60 * h.FS), 0)]
    tests_in_drug = [s for s in sweeps(run, "test") if start <= s.stim_sample < start + int(60 * h.FS)]
    assert len(tests_in_drug) == 12  # test pulses continue during the wash-in


def test_early_decision_measures_exactly_what_the_full_sweep_gives(two_pathway_run):
    """The controller decides once a sweep's analysis windows are in; the stored measurement must
    equal the detector run on the whole recorded sweep."""
    from rig import detector

    run = two_pathway_run
    sw = {d.index: d for d in sweeps(run)}
    mV = run.engine.scaling.mV_per_count[0]
    live = [m for m in run.measured if not m.remeasure]  # the auto windows' version re-measures the first sweeps
    assert len(live) == len(sw) > 100 and len(run.measured) > len(live)
    first = detector.Windows.from_dict(run.docs[0].provenance["windows"])  # RunStart: the windows at the start
    for m in live[::7]:
        s = sw[m.sweep_index]
        w = _windows_at(run, m.sample, first)  # the auto windows change them once, before the baseline counts
        full = detector.measure_pulses(s.counts[0].astype(np.float64) * mV, s.pulse_samples - s.start_sample,
                                       h.FS, w, 32767 * mV * 0.999)  # the engine's clip level
        for f in full.dtype.names:  # field by field: NaN (not measurable) equals NaN
            np.testing.assert_array_equal(m.records[f], full[f], err_msg=f)
    assert len(run.engine.stats.control_latency_ms) == len(sw)


@pytest.mark.parametrize("name", ["auto_tbs_ltp.toml", "auto_two_pathway_tbs.toml"])
def test_shipped_auto_protocols_give_the_controller_what_it_needs(name):
    from pathlib import Path

    from rig.closed_loop.alarms import merge_settings
    from rig.closed_loop.controller import io_rule
    from rig.experiment.runner import RunOptions, prepare

    plan, rig, _, _ = prepare(RunOptions(protocol=Path(__file__).resolve().parents[2] / "protocols" / name))
    io, base, ind, fu = plan.phases
    assert io.kind == "io_curve" and io_rule(io.info) == {"rule": "percent_of_max", "percent": 40.0}
    assert {s.kind for s in io.stimuli} == {"io"} and {s.pathway for s in io.stimuli} == set(plan.pathways)
    assert base.gated and base.info["on_unstable"] == "abort"
    assert base.info["stability"] == {"max_drift_percent_per_10min": 5.0, "max_halves_diff_percent": 10.0,
                                      "window_min": 20.0}
    assert base.max_duration_samples == 2 * base.duration_samples
    assert ind.kind == "induction" and {s.pathway for s in ind.stimuli} == {0}
    assert fu.kind == "follow_up"
    alarms = merge_settings(plan.closed_loop["alarms"])
    assert alarms["response_lost"]["action"] == "pause" and alarms["volley_change"]["enabled"]
    c = h.Controller(plan, limits=rig.stim_limits())
    stims, _, docs = c.schedule(int(60 * plan.sample_rate_hz))
    assert stims and all(s.kind == "io" for s, _, _ in stims)


def test_operator_moves_a_detector_window_for_the_following_sweeps():
    plan = h.make_plan([h.follow_up(60)])
    ctl = h.Controller(plan, limits=h.LIMITS)
    ctl.commands.put({"cmd": "set_windows", "source": "gui", "data": {"window": "slope", "new_ms": [3.5, 5.0]}})
    ctl.commands.put({"cmd": "set_windows", "source": "gui", "data": {"window": "nonsense", "new_ms": [1, 2]}})
    run = h.run(plan, quiet_slice(), controller=ctl)
    assert run.engine.windows.of(0).slope == (3.5, 5.0) == run.engine.windows.default.slope  # every pathway
    assert len(run.events("windows")) == 1 and run.events("windows_refused")[0].data["window"] == "nonsense"
