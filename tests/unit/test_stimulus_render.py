"""The renderer: pulses at their exact samples, whatever the block boundaries; biphasic pulses
charge-balanced; outputs back at 0; no drift over 4 h; limits refused even when called directly."""

from __future__ import annotations

import numpy as np
import pytest

from rig.closed_loop.controller import Controller
from rig.core.errors import StimulusLimitError
from rig.core.plan import Plan, Stimulus, ValveChange
from rig.protocol.load import expand, load_protocol, parse_protocol
from rig.protocol.rigfile import RigConfig, load_rig, parse_rig
from rig.stimulus import OutputMap, StimLimits, render_block
from tests.conftest import PROTOCOLS
from tests.unit.test_protocol_plans import SHIPPED

LIMITS = StimLimits(max_intensity_uA=800, max_width_us=500, max_frequency_hz=200, max_train_s=5, max_charge_uC=0.25)
WIRING = OutputMap(ao_for_pathway=(0, 1), uA_per_V=(100.0, 100.0), n_ao=2, n_do=3)
FS = 20_000.0


def rising_edges(x: np.ndarray) -> np.ndarray:
    """Samples where |x| leaves 0 (pulse onsets)."""
    nz = x != 0
    return np.flatnonzero(nz & ~np.concatenate(([False], nz[:-1])))


def all_stimuli(plan: Plan) -> list[tuple[Stimulus, float]]:
    """Every absolute stimulus of the plan with its intensity, as the controller hands them out."""
    stims, _, _ = Controller(plan).schedule(plan.duration_samples)
    return [(s, uA) for s, uA, _ in stims]


def render_range(plan: Plan, rig: RigConfig, start: int, end: int, block: int, stims) -> tuple[np.ndarray, ...]:
    """Render [start, end) in blocks of ``block`` samples, like the engine's write-ahead."""
    wiring = rig.output_map()
    do_state = np.zeros(wiring.n_do, np.uint8)
    aos, dos = [], []
    w = start
    while w < end:
        n = min(block, end - w)
        active = [(s, i) for s, i in stims if s.sample < w + n and s.sample + s.last_pulse_end > w]
        ao, do = render_block(w, n, active, [], do_state, wiring, plan.sample_rate_hz, rig.stim_limits())
        aos.append(ao)
        dos.append(do)
        w += n
    return np.concatenate(aos, axis=1), np.concatenate(dos, axis=1)


def plan_of(name: str) -> tuple[Plan, RigConfig]:
    rig, _ = load_rig(None)
    proto, _ = load_protocol(PROTOCOLS / f"{name}.toml")
    return expand(proto, rig, name), rig


@pytest.mark.parametrize("name", ["tbs_ltp", "hfs4_ltp", "two_pathway_tbs"])
def test_induction_phase_rendered_in_odd_blocks_lands_on_planned_samples(name):
    plan, rig = plan_of(name)
    k = next(i for i, p in enumerate(plan.phases) if p.kind == "induction")
    p0, ph = plan.phase_starts()[k], plan.phases[k]
    stims = all_stimuli(plan)
    ao, _ = render_range(plan, rig, p0 - 5000, p0 + ph.duration_samples, 997, stims)
    planned = sorted(p0 + s.sample + o for s in ph.stimuli for o in s.pulse_offsets)
    got = p0 - 5000 + rising_edges(ao[0])
    assert got.tolist() == planned
    assert len(planned) == ph.info["pulses"]
    assert np.all(ao[0][ao[0] != 0] == pytest.approx(1.5))  # 150 µA / (100 µA/V)
    assert np.all(ao[1] == 0) and ao[0, -1] == 0


@pytest.mark.parametrize("name", SHIPPED)
def test_every_planned_pulse_of_every_shipped_protocol_is_rendered_at_its_sample(name):
    plan, rig = plan_of(name)
    stims = all_stimuli(plan)
    wiring = rig.output_map()
    n_pulses = 0
    for s, uA in stims:
        a = s.sample - 37  # window starting mid-way, like an arbitrary block boundary
        n = s.last_pulse_end + 60
        ao, _ = render_block(a, n, [(s, uA)], [], np.zeros(wiring.n_do, np.uint8), wiring, FS, rig.stim_limits())
        ch = wiring.ao_for_pathway[s.pathway]
        assert (a + rising_edges(ao[ch])).tolist() == [s.sample + o for o in s.pulse_offsets]
        assert np.count_nonzero(ao[ch]) == s.n_pulses * s.width_samples
        assert ao[ch, -1] == 0 and ao[ch, 0] == 0
        n_pulses += s.n_pulses
    expected = sum(len(p.test.pulse_times(0, p.duration_samples)) * len(p.test.pulse_offsets) if p.test else 0
                   for p in plan.phases)
    expected += sum(s.n_pulses for p in plan.phases for s in p.stimuli)
    assert n_pulses == expected


def test_no_drift_over_four_hours():
    rig, _ = load_rig(None)
    proto = parse_protocol('[experiment]\nname = "4 h"\n[[phases]]\nkind = "baseline"\nduration_min = 240\n'
                           'interval_s = 20\n', "4h.toml")
    plan = expand(proto, rig)
    stims = all_stimuli(plan)
    t = np.array([s.sample for s, _ in stims])
    first = plan.phases[0].test.first_offset
    assert len(t) == 240 * 3
    assert np.array_equal(t, first + np.arange(len(t)) * 20 * 20_000)
    last, uA = stims[-1]
    assert last.sample == first + (len(t) - 1) * 400_000 and last.sample > 4 * 3600 * 20_000 - 20 * 20_000
    ao, _ = render_block(last.sample - 1001, 3000, [(last, uA)], [], np.zeros(3, np.uint8), rig.output_map(), FS,
                         rig.stim_limits())
    assert (last.sample - 1001 + rising_edges(ao[0])).tolist() == [last.sample]


def test_odd_sample_rate_keeps_integer_schedule():
    text = load_rig(None)[1].replace("sample_rate_hz = 20000.0", "sample_rate_hz = 16667.0")
    rig = parse_rig(text, "odd.toml")
    proto = parse_protocol('[experiment]\nname = "x"\n[stimulation]\nwidth_us = 119.9976\n[[phases]]\n'
                           'kind = "follow_up"\nduration_min = 60\ninterval_s = 30\n', "x.toml")
    plan = expand(proto, rig)
    t = np.array([s.sample for s, _ in all_stimuli(plan)])
    assert np.all(np.diff(t) == round(30 * 16667.0))


def test_biphasic_pulses_are_charge_balanced_and_end_at_zero():
    s = Stimulus(100, 0, "train", pulse_offsets=(0, 200, 400, 600), width_samples=3, biphasic=True)
    ao, _ = render_block(0, 1000, [(s, 150.0)], [], np.zeros(0, np.uint8),
                         OutputMap((0,), (100.0,), 1, 0), FS, LIMITS)
    x = ao[0]
    assert x.sum() == 0.0
    for off in s.pulse_offsets:
        assert np.all(x[100 + off: 103 + off] == 1.5) and np.all(x[103 + off: 106 + off] == -1.5)
    assert np.count_nonzero(x) == 4 * 6 and x[-1] == 0 and not x[706:].any()


def test_a_pulse_split_across_blocks_is_whole():
    s = Stimulus(999, 0, "test", width_samples=4)
    wiring = OutputMap((0,), (100.0,), 1, 0)
    a, _ = render_block(0, 1001, [(s, 100.0)], [], np.zeros(0, np.uint8), wiring, FS, LIMITS)
    b, _ = render_block(1001, 1000, [(s, 100.0)], [], np.zeros(0, np.uint8), wiring, FS, LIMITS)
    x = np.concatenate([a[0], b[0]])
    assert np.flatnonzero(x).tolist() == [999, 1000, 1001, 1002]


@pytest.mark.parametrize("stim, uA, words", [
    (Stimulus(0, 0, "test", width_samples=2), 900.0, "intensity"),
    (Stimulus(0, 0, "test", width_samples=2), float("nan"), "intensity"),
    (Stimulus(0, 0, "test", width_samples=12), 100.0, "width"),  # 600 µs
    (Stimulus(0, 0, "test", width_samples=8), 700.0, "charge"),  # 0.28 µC
    (Stimulus(0, 0, "train", pulse_offsets=(0, 50), width_samples=2), 100.0, "frequency"),  # 400 Hz
    (Stimulus(0, 0, "train", pulse_offsets=(0, 1), width_samples=2), 100.0, "overlap"),
    (Stimulus(0, 0, "train", pulse_offsets=tuple(range(0, 6 * 20_000, 200)), width_samples=2), 100.0, "train"),
])
def test_renderer_refuses_out_of_limit_pulses_when_called_directly(stim, uA, words):
    with pytest.raises(StimulusLimitError, match=words):
        render_block(0, 1000, [(stim, uA)], [], np.zeros(3, np.uint8), WIRING, FS, LIMITS)


def test_renderer_refuses_separate_stimuli_faster_than_the_limit():
    a, b = Stimulus(100, 0, "train"), Stimulus(160, 0, "train")  # 3 ms apart: 333 Hz
    with pytest.raises(StimulusLimitError, match="frequency"):
        render_block(0, 1000, [(a, 100.0), (b, 100.0)], [], np.zeros(3, np.uint8), WIRING, FS, LIMITS)
    c = Stimulus(160, 1, "train")  # other pathway: fine
    ao, _ = render_block(0, 1000, [(a, 100.0), (c, 100.0)], [], np.zeros(3, np.uint8), WIRING, FS, LIMITS)
    assert rising_edges(ao[0]).tolist() == [100] and rising_edges(ao[1]).tolist() == [160]


def test_renderer_refuses_a_command_beyond_the_ao_range():
    wiring = OutputMap((0,), (10.0,), 1, 0)  # 10 µA/V: 200 µA needs 20 V
    with pytest.raises(StimulusLimitError, match="AO range"):
        render_block(0, 100, [(Stimulus(10, 0, "test"), 200.0)], [], np.zeros(0, np.uint8), wiring, FS, LIMITS)


def test_ttl_gate_and_ttl_only_pathways():
    text = load_rig(None)[1].replace('ao = "ao1"\n', 'trigger_line = "port1/line1"\n').replace(
        'ao = "ao0"\n', 'ao = "ao0"\ntrigger_line = "port1/line0"\n')
    rig = parse_rig(text, "ttl.toml")
    assert rig.do_lines == ["port1/line0", "port1/line1", "port0/line0", "port0/line1", "port0/line2"]
    assert rig.ao_channels() == ["ao0"] and rig.valve_index("drug_A") == 2
    wiring = rig.output_map()
    assert wiring.ao_for_pathway == (0, None) and wiring.trigger_line_for_pathway == (0, 1)
    s1, s2 = Stimulus(100, 0, "test", width_samples=2), Stimulus(500, 1, "test", width_samples=2)
    ao, do = render_block(0, 1000, [(s1, 100.0), (s2, 100.0)], [], np.zeros(5, np.uint8), wiring, FS,
                          rig.stim_limits())
    assert ao.shape == (1, 1000) and np.flatnonzero(ao[0]).tolist() == [100, 101]
    assert np.flatnonzero(do[0]).tolist() == [100, 101] and np.flatnonzero(do[1]).tolist() == [500, 501]
    assert not do[2:].any()


def test_declared_do_lines_come_first():
    text = 'do_lines = ["port0/line7"]\n' + load_rig(None)[1].replace(
        'ao = "ao0"\n', 'ao = "ao0"\ntrigger_line = "port0/line7"\n')
    rig = parse_rig(text, "ttl.toml")
    assert rig.do_lines == ["port0/line7", "port0/line0", "port0/line1", "port0/line2"]
    assert rig.output_map().trigger_line_for_pathway == (0, None) and rig.valve_index("drug_C") == 3


def test_valve_switches_at_its_sample_and_holds_across_blocks():
    state = np.zeros(3, np.uint8)
    valves = [ValveChange(250, 1, 1), ValveChange(1700, 1, 0)]
    _, d1 = render_block(0, 1000, [], valves, state, WIRING, FS, LIMITS)
    assert np.flatnonzero(d1[1]).tolist() == list(range(250, 1000)) and state.tolist() == [0, 1, 0]
    _, d2 = render_block(1000, 1000, [], valves, state, WIRING, FS, LIMITS)
    assert np.all(d2[1, :700] == 1) and np.all(d2[1, 700:] == 0) and state.tolist() == [0, 0, 0]
    assert not d1[0].any() and not d1[2].any()
