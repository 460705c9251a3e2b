"""Issue 18: the virtual slice predicts — seed rows have paired vehicles, no per-condition
parameters, pre-incubation is expressible, E-LTP and L-LTP are separate phases."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np

from drivers.sim.pharmacology import Bath
from rig import cli
from rig.bench import validate_sim as vs

ROOT = Path(__file__).resolve().parents[2]


def _model_params() -> set[str]:
    from drivers.sim.slice_params import SliceParams

    design = {"genotype", "seed", "sample_rate_hz", "gain", "electrode", "n_ai", "pathways", "coupling",
              "extra"}  # the experiment's design (what the experimenter chooses), not model parameters
    return {f.name for f in dataclasses.fields(SliceParams)} - design


def test_validate_sim_has_no_per_condition_parameter():
    """Grep the validate-sim source: no Condition(...) may name a SliceParams field (e.g. the old
    ``mltd_gain = 3.5`` of the Barnes rows), and Condition has no overrides field at all."""
    names = _model_params() | {"overrides"}
    tree = ast.parse((ROOT / "rig/bench/validate_sim.py").read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Condition":
            bad += [kw.arg for kw in node.keywords if kw.arg in names]
        if isinstance(node, ast.Dict):
            bad += [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in names]
    fields = {f.name for f in dataclasses.fields(vs.Condition)}
    assert not bad and not (fields & names), (bad, fields & names)


def test_every_one_sided_row_and_seed_row_has_its_vehicle():
    kinds = {c.kind for c in vs.CONDITIONS}
    assert kinds == {"calibration", "prediction"}
    by = {c.name: c for c in vs.CONDITIONS}
    for c in vs.CONDITIONS:
        if c.vehicle:
            assert c.vehicle in by and by[c.vehicle].group == c.group, c.name
    one_sided = [c for c in vs.CONDITIONS if "MPEP" in c.name or "KO +" in c.name or "mGluR5-KO" in c.name]
    assert all(c.vehicle or c.induction == "dhpg" for c in one_sided), [c.name for c in one_sided]
    seed_rows = ["HFS 1 × 100 Hz 1 s, mGluR5-KO", "TBS 3 trains + MPEP 40 µM, 3 h",
                 "LFS 900 @ 1 Hz + MPEP 40 µM", "DHPG 100 µM, Fmr1-KO + basimglurant 3 nM pre-incubated 3 h"]
    assert all(by[n].kind == "prediction" and by[n].vehicle for n in seed_rows)


def test_basimglurant_pre_incubation_follows_binding_kinetics():
    """3 nM basimglurant: k_on = k_off / K_d; a 20 min wash-in binds little, 3 h nearly 80 % of the
    equilibrium occupancy (0.73)."""
    short = Bath(pre_incubated={"basimglurant": (0.003, 20 * 60.0)}).nam_block()
    long = Bath(pre_incubated={"basimglurant": (0.003, 180 * 60.0)}).nam_block()
    eq = 0.003 / (0.003 + 0.0011)
    assert short < 0.25 * eq and 0.75 * eq < long < eq, (short, long, eq)


def test_pre_incubation_min_reaches_the_slice_and_the_file(tmp_path):
    text = (ROOT / "protocols/basimglurant_dhpg_fmr1.toml").read_text(encoding="utf-8")
    text = text.replace("duration_min = 20.0", "duration_min = 2.0").replace("duration_min = 60.0",
                                                                              "duration_min = 2.0")
    proto = tmp_path / "p.toml"
    proto.write_text(text, encoding="utf-8")
    out = tmp_path / "r.h5"
    assert cli.main(["run", str(proto), "--sim", "--speed", "max", "--seed", "3", "--out", str(out),
                     "--no-gui"]) == 0
    with h5py.File(out, "r", swmr=True) as f:
        pre = json.loads(f.attrs["pre_incubation"])
    assert pre == {"basimglurant": {"concentration_uM": 0.003, "minutes": 180.0}}


def test_pre_incubation_only_on_the_first_phase(tmp_path, capsys):
    text = (ROOT / "protocols/mpep_lfs.toml").read_text(encoding="utf-8")
    text = text.replace('kind = "induction"', 'kind = "drug"\nname = "x"\ndrug = "APV"\n'
                        'concentration_uM = 50.0\nwash_in_min = 1.0\npre_incubation_min = 10.0\n\n'
                        '[[phases]]\nkind = "induction"', 1)
    proto = tmp_path / "p.toml"
    proto.write_text(text, encoding="utf-8")
    assert cli.main(["check", str(proto)]) == 2
    assert "pre_incubation_min" in capsys.readouterr().err


def test_anisomycin_spares_the_first_hour_and_l_ltp_is_stable():
    """Model level (efficacy, 3 h): E-LTP and L-LTP are separate phases."""
    from drivers.sim.slice import make_slice
    from tests.slice_helpers import tbs

    def course(seed, bath=None):
        m = make_slice(10000.0, 1, seed, bath=bath)
        b, syn = m.bath, m.syn
        t_ind = [t for t, _, _ in tbs(0.0, 3)]
        times = {}
        tnow = 0.0
        for t, mark in [(x, None) for x in t_ind] + [(60.0 * k, k) for k in (20, 60, 120, 180)]:
            while tnow < t:
                step = min(1.0, t - tnow)
                b.advance(step)
                syn.advance(step, b)
                tnow += step
            if mark is None:
                syn.pulse(0, m.intensity_for(0.4), b)
            else:
                times[mark] = syn.efficacy(0)
        return times

    veh = [course(s) for s in (1, 2)]
    ani = [course(s, {"anisomycin": 25.0}) for s in (1, 2)]
    v = {k: np.mean([c[k] for c in veh]) - 1 for k in veh[0]}
    a = {k: np.mean([c[k] for c in ani]) - 1 for k in ani[0]}
    assert v[180] > 0.85 * v[20], v  # L-LTP stable to 3 h
    assert a[60] > 0.8 * v[60], (a, v)  # first hour spared by anisomycin
    assert a[180] < 0.7 * v[180], (a, v)  # late phase lost


def _efficacy_after(seed: int, pulses_s: list[float], read_s: float) -> float:
    """Model level: potentiation (efficacy − 1) at ``read_s`` after the pulses (40 % intensity)."""
    from drivers.sim.slice import make_slice

    m = make_slice(10000.0, 1, seed)
    b, syn, i = m.bath, m.syn, m.intensity_for(0.4)
    tnow = 0.0
    for t in sorted(pulses_s) + [read_s]:
        while tnow < t:
            step = min(1.0, t - tnow)
            b.advance(step)
            syn.advance(step, b)
            tnow += step
        if t != read_s:
            syn.pulse(0, i, b)
    return syn.efficacy(0) - 1.0


def test_frequency_response_has_the_dudek_bear_shape():
    """900 pulses: 3 Hz depresses about like 1 Hz, 50 Hz potentiates modestly (main: 3 Hz half the
    LTD of 1 Hz, 50 Hz +70–100 %)."""
    def change(seed, hz):
        return _efficacy_after(seed, [60.0 + k / hz for k in range(900)], 60.0 + 900 / hz + 1800.0)

    for seed in (1, 2):
        d1, d3, d50 = change(seed, 1.0), change(seed, 3.0), change(seed, 50.0)
        assert d1 < -0.1 and d3 < -0.5 * abs(d1), (d1, d3)
        assert 0.05 < d50 < 0.45, d50


def test_a_second_tbs_after_consolidation_adds_little():
    """Occlusion: 3 TBS trains, 3 more 60 min later; at 2 h the second adds < 40 % (main: ~60 %)."""
    from tests.slice_helpers import tbs

    for seed in (1, 2):
        first = [t for t, _, _ in tbs(60.0, 3)]
        again = first + [t + 3600.0 for t in first]
        one, two = _efficacy_after(seed, first, 7260.0), _efficacy_after(seed, again, 7260.0)
        assert one > 0.3 and two < 1.4 * one, (one, two)


def test_new_rows_build_within_the_rig_limits():
    from rig.protocol.rigfile import load_rig

    rig, _ = load_rig(None)
    by = {c.name: c for c in vs.CONDITIONS}
    for name in ("900 pulses @ 10 Hz", "900 pulses @ 50 Hz"):
        plan, _ = vs.build_plan(by[name])
        trains = [s for ph in plan.phases for s in ph.stimuli]
        assert sum(len(s.pulse_offsets) for s in trains) == 900
        assert all(s.pulse_offsets[-1] / plan.sample_rate_hz <= rig.limits.max_train_s for s in trains)
    plan, ind = vs.build_plan(by["TBS 3 trains, again at 60 min; 2 h"])
    starts, t = [], 0
    for ph in plan.phases:
        if ph.kind == "induction":
            starts.append(t)
        t += ph.duration_samples
    assert len(starts) == 2 and starts[0] == ind and starts[1] - starts[0] == 3600 * plan.sample_rate_hz


def test_every_validate_sim_row_has_a_shipped_protocol_that_is_documented():
    """Issue 18: each row names a file in protocols/ (passing `rig check` is
    tests/pipeline/test_check_cli.py), and docs/simulation.md lists it with the row."""
    from rig.bench.validate_sim_protocols import ROW_PROTOCOLS

    doc = (ROOT / "docs/simulation.md").read_text(encoding="utf-8")
    names = {c.name for c in vs.CONDITIONS}
    assert set(ROW_PROTOCOLS) == names, names ^ set(ROW_PROTOCOLS)
    for row, (file, _note) in ROW_PROTOCOLS.items():
        assert (ROOT / "protocols" / file).is_file(), (row, file)
        assert f"`{file}`" in doc, file


def test_fast_frequency_rows_run_the_trains_of_their_shipped_files():
    """900 pulses at 10 and 50 Hz: validate-sim's plan has the shipped file's trains (count, pulses, onsets)."""
    from rig.protocol.load import expand, load_protocol
    from rig.protocol.rigfile import load_rig

    rig, _ = load_rig(None)
    rig = rig.model_copy(update={"sample_rate_hz": vs.FS})
    for hz, file in ((10.0, "lfs_900_10hz.toml"), (50.0, "lfs_900_50hz.toml")):
        proto, _ = load_protocol(ROOT / "protocols" / file)
        shipped = [p for p in expand(proto, rig).phases if p.kind == "induction"][0].stimuli
        row = next(c for c in vs.CONDITIONS if c.induction == "lfs" and c.lfs_hz == hz)
        ours = vs.build_plan(row)[0].phases[1].stimuli
        assert len(ours) == len(shipped) and sum(len(s.pulse_offsets) for s in ours) == 900
        assert [s.pulse_offsets for s in ours] == [s.pulse_offsets for s in shipped]
        assert [b.sample - a.sample for a, b in zip(ours, ours[1:], strict=False)] == \
            [b.sample - a.sample for a, b in zip(shipped, shipped[1:], strict=False)]
