"""Calibration of the virtual slice through the real pipeline (``rig validate-sim``).

Each condition is run on a group of simulated slices, every slice as a complete experiment:
plan (rig.core.plan) → Controller → Engine → SimDevice with the realistic slice → detector → HDF5
(RecordingWriter), assembled by :mod:`rig.experiment.assemble` under the rig's limits like
``rig run``. The result is read back from the file with :func:`rig.storage.open_recording`
and computed by :mod:`rig.analysis.results`, the one definition ``rig summary`` uses: the fEPSP
initial slope of the valid test sweeps as % of the baseline mean, averaged over the last 10 min of
the recording (which ends at the condition's target time). Nothing reads the model's internal state; the only thing
taken from the slice is the test intensity (40 % of its maximal fEPSP, what the experimenter sets
from an I/O curve).
"""

from __future__ import annotations

import math
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rig.core.plan import Phase, Plan, Stimulus, TestSchedule, ValveChange

FS = 10000.0  # the real CA1 recordings of docs/architecture.md were sampled at 10 kHz; halves the run time
TEST_EVERY_S = 20.0
BASELINE_MIN = 20.0
DRUG_VALVE = "drug_A"  # the default rig's first perfusion valve …
DRUG_LINE = 0  # … is DO output 0


@dataclass(frozen=True)
class Condition:
    """One condition: published target, pass range, how to run it.

    ``kind``: ``calibration`` (a parameter was fitted on it) or ``prediction`` (no parameter was
    tuned on it). With ``vehicle`` (the name of another condition, run on the *same* slices:
    same ``group``) the row passes when the change from baseline relative to the vehicle's,
    ``(m − 100) / (m_vehicle − 100)``, lies in ``ratio``; ``lo``/``hi`` still bound ``m``.
    There are no per-condition model parameters: every condition runs the same slice model."""

    name: str
    target: str  # published value / expectation, as text
    lo: float  # pass range (% of baseline), inclusive
    hi: float
    induction: str  # none | tbs1 | tbs3 | hfs1 | hfs2 | lfs | dhpg
    genotype: str = "WT"
    at_min: float = 60.0  # measured in the 10 min ending this long after the induction onset
    dhpg_uM: float = 100.0
    bath: dict = field(default_factory=dict)  # drugs present from the start (µM)
    pre_incubation_min: float = 0.0  # how long the slice sat in ``bath`` before the recording
    wash_in: tuple = ()  # (drug, µM) perfused from the start of the baseline (valve line 0)
    n_pathways: int = 1
    pathway: int = 0  # which pathway this row reports
    source: str = ""
    baseline_min: float = BASELINE_MIN
    kind: str = "calibration"
    group: str = ""  # slices are drawn per group (default: the name before ':')
    vehicle: str = ""
    ratio: tuple = (-math.inf, math.inf)
    lfs_hz: float = 1.0  # frequency of the 900-pulse induction (induction "lfs")
    repeat_after_min: float = 0.0  # > 0: the same induction again this long after the first


BASIM_SAT_UM = 0.1  # 100 nM basimglurant: ≈ 99 % of mGluR5 bound (K_d 1.1 nM)
BASIM_KO_UM = 0.003  # 3 nM, pre-incubated (Table 2 of the seed)
BASIM_PRE_MIN = 180.0  # pre-incubation before the recording (k_on·C + k_off ≈ 1/107 min at 3 nM)
P = "prediction"

CONDITIONS: tuple[Condition, ...] = (
    # --- calibration: the rows the parameters were fitted on ---------------------------------
    Condition("DHPG 100 µM 5 min, WT", "88 ± 4", 80, 96, "dhpg", source="Huber 2002", group="dhpg100"),
    Condition("DHPG 100 µM 5 min, Fmr1-KO", "77 ± 3", 71, 83, "dhpg", "Fmr1-KO",
              source="Huber 2002", group="dhpg100"),
    Condition("DHPG 100 µM, mGluR5-KO", "≈ 100", 95, 105, "dhpg", "mGluR5-KO",
              source="Huber, Roder & Bear 2001"),
    Condition("DHPG 100 µM, WT + basimglurant 100 nM", "≈ 100", 95, 105, "dhpg",
              bath={"basimglurant": BASIM_SAT_UM}, pre_incubation_min=BASIM_PRE_MIN,
              source="saturating NAM"),
    Condition("TBS 3 trains", "140–200", 140, 200, "tbs3", source="CA1 TBS LTP", group="tbs3"),
    Condition("TBS 1 train", "potentiated (115–170)", 115, 170, "tbs1", source="vehicle of MPEP row",
              group="tbs1"),
    Condition("TBS 1 train + MPEP 40 µM", "< 115 (LTP blocked)", -math.inf, 115, "tbs1",
              wash_in=("MPEP", 40.0), source="Frontiers Cell Neurosci 2016", group="tbs1",
              vehicle="TBS 1 train", ratio=(-math.inf, 0.6)),
    Condition("TBS 3 trains + MPEP 40 µM", "> 120 (largely spared)", 120, math.inf, "tbs3",
              wash_in=("MPEP", 40.0), source="PMC311286", group="tbs3", vehicle="TBS 3 trains",
              ratio=(0.5, math.inf)),
    Condition("HFS 2 × 100 Hz 1 s, 40 min", "185 ± 7 (160–210)", 160, 210, "hfs2", at_min=40.0,
              source="Molecular Brain 2014"),
    Condition("LFS 900 @ 1 Hz", "70–90", 70, 90, "lfs", source="Dudek & Bear 1992", group="lfs"),
    Condition("no induction, 90 min", "90–110", 90, 110, "none", at_min=70.0,
              source="stable baseline"),
    Condition("two-pathway TBS: S1", "potentiated (> 120)", 120, math.inf, "tbs3",
              n_pathways=2, pathway=0, source="input specificity"),
    Condition("two-pathway TBS: S2", "90–110", 90, 110, "tbs3", n_pathways=2, pathway=1,
              source="input specificity"),
    # --- prediction: no parameter was tuned on these -------------------------------------------
    Condition("HFS 1 × 100 Hz 1 s, WT", "potentiated (> 120)", 120, math.inf, "hfs1", kind=P,
              source="vehicle of the mGluR5-KO row", group="hfs1"),
    Condition("HFS 1 × 100 Hz 1 s, mGluR5-KO", "attenuated vs WT (Lu 1997)", -math.inf, math.inf,
              "hfs1", "mGluR5-KO", kind=P, source="Lu et al. 1997", group="hfs1",
              vehicle="HFS 1 × 100 Hz 1 s, WT", ratio=(-math.inf, 0.9)),
    Condition("TBS 3 trains, 20 min", "potentiated (> 130)", 130, math.inf, "tbs3", at_min=20.0,
              kind=P, source="vehicle (early)", group="tbs3"),
    Condition("TBS 3 trains + MPEP 40 µM, 20 min", "early LTP largely spared", -math.inf, math.inf,
              "tbs3", at_min=20.0, wash_in=("MPEP", 40.0), kind=P, source="seed Table 1",
              group="tbs3", vehicle="TBS 3 trains, 20 min", ratio=(0.55, math.inf)),
    Condition("TBS 3 trains, 3 h", "L-LTP stable to 3 h (≥ 85 % of 20 min)", 130, math.inf, "tbs3",
              at_min=180.0, kind=P, source="Frey & Morris 1997", group="tbs3",
              vehicle="TBS 3 trains, 20 min", ratio=(0.85, math.inf)),
    Condition("TBS 3 trains + MPEP 40 µM, 3 h", "late phase inhibited (≤ 50 % of vehicle)",
              -math.inf, math.inf, "tbs3", at_min=180.0, wash_in=("MPEP", 40.0), kind=P,
              source="seed Table 1", group="tbs3", vehicle="TBS 3 trains, 3 h", ratio=(-math.inf, 0.5)),
    Condition("TBS 3 trains + anisomycin 25 µM", "first hour spared (≥ 80 % of vehicle)", -math.inf,
              math.inf, "tbs3", bath={"anisomycin": 25.0}, kind=P, source="Frey et al. 1988",
              group="tbs3", vehicle="TBS 3 trains", ratio=(0.8, math.inf)),
    Condition("TBS 3 trains + anisomycin 25 µM, 3 h", "late phase lost (≤ 70 % of vehicle)",
              -math.inf, math.inf, "tbs3", at_min=180.0, bath={"anisomycin": 25.0}, kind=P,
              source="Frey et al. 1988", group="tbs3", vehicle="TBS 3 trains, 3 h",
              ratio=(-math.inf, 0.7)),
    Condition("LFS 900 @ 1 Hz + MPEP 40 µM", "LTD attenuated (≤ 85 % of vehicle)", -math.inf, 100,
              "lfs", wash_in=("MPEP", 40.0), kind=P, source="seed Table 2", group="lfs",
              vehicle="LFS 900 @ 1 Hz", ratio=(-math.inf, 0.85)),
    Condition("LFS 900 @ 1 Hz, 2 h", "LTD stable (≥ 80 % of 60 min)", -math.inf, 95, "lfs",
              at_min=120.0, kind=P, source="late LTD", group="lfs", vehicle="LFS 900 @ 1 Hz",
              ratio=(0.8, math.inf)),
    Condition("DHPG 100 µM, Fmr1-KO + basimglurant 3 nM pre-incubated 3 h",
              "exaggerated LTD reduced (≤ 75 % of KO vehicle)", -math.inf, math.inf, "dhpg",
              "Fmr1-KO", bath={"basimglurant": BASIM_KO_UM}, pre_incubation_min=BASIM_PRE_MIN,
              kind=P, source="seed Table 2; Michalon 2012", group="dhpg100",
              vehicle="DHPG 100 µM 5 min, Fmr1-KO", ratio=(-math.inf, 0.75)),
    # frequency–response (Dudek & Bear 1992: 900 pulses at 0.5–50 Hz; values read from their
    # figure, approximate): 0.5 Hz ≈ −5 %, 1 Hz ≈ −20 %, 3 Hz ≈ −20 %, 10 Hz ≈ 0, 50 Hz ≈ +20 %
    Condition("900 pulses @ 0.5 Hz", "little change (D&B 1992: ≈ −5 %)", 90, 105, "lfs",
              lfs_hz=0.5, kind=P, source="Dudek & Bear 1992", group="lfs"),
    Condition("900 pulses @ 3 Hz", "LTD like 1 Hz (≥ 50 % of the 1 Hz LTD)", -math.inf, 95, "lfs",
              lfs_hz=3.0, kind=P, source="Dudek & Bear 1992", group="lfs", vehicle="LFS 900 @ 1 Hz",
              ratio=(0.5, math.inf)),
    Condition("900 pulses @ 10 Hz", "no net change (D&B 1992: ≈ 0)", 90, 110, "lfs", lfs_hz=10.0,
              kind=P, source="Dudek & Bear 1992", group="lfs"),
    Condition("900 pulses @ 50 Hz", "LTP, modest (D&B 1992: ≈ +20 %)", 105, 145, "lfs", lfs_hz=50.0,
              kind=P, source="Dudek & Bear 1992", group="lfs"),
    # occlusion: a second 3-train TBS an hour after the first adds little (saturation of LTP)
    Condition("TBS 3 trains, 2 h", "vehicle of the occlusion row", 130, math.inf, "tbs3",
              at_min=120.0, kind=P, source="vehicle", group="tbs3"),
    Condition("TBS 3 trains, again at 60 min; 2 h", "second TBS adds little (≤ 40 % more)", -math.inf,
              math.inf, "tbs3", at_min=120.0, repeat_after_min=60.0, kind=P,
              source="occlusion (saturation of LTP)", group="tbs3", vehicle="TBS 3 trains, 2 h",
              ratio=(-math.inf, 1.4)),
    Condition("DHPG 50 µM 5 min, WT", "LTD (Barnes 2015: 77 ± 5)", -math.inf, 100, "dhpg",
              dhpg_uM=50.0, kind=P, source="Barnes 2015", group="dhpg50"),
    Condition("DHPG 50 µM 5 min, Fmr1-KO", "exaggerated vs WT (Barnes 2015: 63 ± 4)", -math.inf,
              100, "dhpg", "Fmr1-KO", dhpg_uM=50.0, kind=P, source="Barnes 2015", group="dhpg50",
              vehicle="DHPG 50 µM 5 min, WT", ratio=(1.2, math.inf)),
)


def _s(seconds: float) -> int:
    return int(round(seconds * FS))


def _tbs(trains: int) -> tuple[Stimulus, ...]:
    offs = tuple(_s(b * 0.2) + _s(k * 0.01) for b in range(10) for k in range(4))
    return tuple(Stimulus(sample=_s(1.0 + 10.0 * t), pathway=0, kind="train", pulse_offsets=offs,
                          label=f"TBS train {t + 1}/{trains}") for t in range(trains))


def _hfs(trains: int) -> tuple[Stimulus, ...]:
    offs = tuple(_s(k * 0.01) for k in range(100))
    return tuple(Stimulus(sample=_s(1.0 + 20.0 * t), pathway=0, kind="train", pulse_offsets=offs,
                          label=f"HFS train {t + 1}/{trains}") for t in range(trains))


# 900 pulses above 5 Hz as the shipped files express them (protocols/lfs_900_10hz.toml,
# lfs_900_50hz.toml): trains within the rig's 5 s limit, (pulses per train, train onsets s apart)
FAST_TRAINS = {10.0: (50, 5.1), 50.0: (225, 4.6)}


def _fast_900(hz: float) -> tuple[Stimulus, ...]:
    """900 pulses at ``hz`` as the trains of :data:`FAST_TRAINS` (each within the rig's train limit)."""
    per, every_s = FAST_TRAINS[hz]
    offs = tuple(_s(k / hz) for k in range(per))
    n = 900 // per
    return tuple(Stimulus(sample=_s(1.0 + every_s * t), pathway=0, kind="train", pulse_offsets=offs,
                          label=f"{hz:g} Hz train {t + 1}/{n}") for t in range(n))


def build_plan(c: Condition) -> tuple[Plan, int]:
    """The experiment for one condition, and the sample at which the induction starts."""
    pw = tuple(range(c.n_pathways))
    every = _s(TEST_EVERY_S / c.n_pathways)  # pathways alternate; each sampled every 20 s
    test = TestSchedule(every, pw)
    valves = washout = ()
    if c.wash_in:
        valves = (ValveChange(0, DRUG_LINE, 1),)
    phases = [Phase("baseline", "baseline", _s(c.baseline_min * 60), test=test, valves=valves)]
    if c.induction == "none":
        follow_s = c.at_min * 60.0
    elif c.induction == "dhpg":
        phases.append(Phase("DHPG", "drug", _s(300.0), test=test,
                            valves=(ValveChange(0, DRUG_LINE, 1),), info={"drug": "DHPG"}))
        follow_s = c.at_min * 60.0 - 300.0
        washout = (ValveChange(0, DRUG_LINE, 0),)  # valve closes when the follow-up starts
    elif c.induction == "lfs" and c.lfs_hz <= 5.0:
        dur_s = 900.0 / c.lfs_hz
        phases.append(Phase("LFS", "induction", _s(dur_s), test=TestSchedule(_s(1.0 / c.lfs_hz),
                                                                             (0,), 0, kind="lfs"),
                            info={"protocol": "lfs", "frequency_hz": c.lfs_hz}))
        follow_s = c.at_min * 60.0 - dur_s
    else:
        stims = _fast_900(c.lfs_hz) if c.induction == "lfs" else {
            "tbs1": _tbs(1), "tbs3": _tbs(3), "hfs1": _hfs(1), "hfs2": _hfs(2)}[c.induction]
        dur = stims[-1].sample + stims[-1].pulse_offsets[-1] + _s(5.0)
        ind = Phase(c.induction, "induction", dur, stimuli=stims, info={"protocol": c.induction})
        phases.append(ind)
        follow_s = c.at_min * 60.0 - dur / FS
        if c.repeat_after_min > 0:
            gap = _s(c.repeat_after_min * 60.0) - dur
            phases += [Phase("follow-up 1", "follow_up", gap, test=test), ind]
            follow_s -= c.repeat_after_min * 60.0
    phases.append(Phase("follow-up", "follow_up", _s(follow_s + 1.0), test=test, valves=washout))
    plan = Plan(name=c.name, sample_rate_hz=FS, phases=tuple(phases), pathways=pw,
                test_intensity_uA=tuple(100.0 for _ in pw), pulse_width_samples=2)
    return plan, _s(c.baseline_min * 60)


def run_slice(c: Condition, seed: int, workdir: str | None = None, rig=None) -> list[float]:
    """Run one slice through the pipeline; % of baseline for every pathway (from the file).

    ``rig`` (default: the shipped simulator rig) gives the wiring and the limits: the run is
    assembled as ``rig run`` assembles it, so a stimulus beyond the rig's limits is refused
    (``UserError``) before anything is armed. The rig runs at the plan's rate (:data:`FS`)."""
    from drivers.sim.slice import make_slice
    from rig.experiment.assemble import assemble_run
    from rig.protocol.rigfile import load_rig
    from rig.storage.reader import open_recording

    if rig is None:
        rig, _ = load_rig(None)  # the shipped simulator rig: S1, S2, valves drug_A … (DO 0 …)
    rig = rig.model_copy(update={"sample_rate_hz": FS, "backend": "sim"})  # one rate: the plan's
    if rig.valve_index(DRUG_VALVE) != DRUG_LINE:
        raise RuntimeError(f"the default rig's valve {DRUG_VALVE} is not DO line {DRUG_LINE}")
    plan, _ = build_plan(c)
    valves = ()
    if c.induction == "dhpg":
        valves = ((DRUG_LINE, "DHPG", c.dhpg_uM),)
    elif c.wash_in:
        valves = ((DRUG_LINE, c.wash_in[0], c.wash_in[1]),)
    pre = {d: (u, c.pre_incubation_min * 60.0) for d, u in c.bath.items()} if c.pre_incubation_min else None
    model = make_slice(FS, len(rig.stim), seed, genotype=c.genotype, valves=valves,
                       bath=dict(c.bath), gain=rig.scale_gains()[0], pre_incubated=pre)
    intens = [round(model.intensity_for(0.4, e), 1) for e in range(len(rig.stim))]
    plan = Plan(plan.name, plan.sample_rate_hz, plan.phases, plan.pathways,
                tuple(intens[p] for p in plan.pathways), plan.pulse_width_samples)
    block = _s(1.0)
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        path = Path(d) / "run.h5"
        run = assemble_run(plan, rig, seed=seed, speed=None, out=path, slice_model=model, block=block,
                           horizon=2 * block, file_attrs={"condition": c.name, "seed": seed})
        try:
            stop = run.engine.run(threading.Event())
        finally:
            run.close()
        if stop.reason != "completed":
            raise RuntimeError(f"{c.name} seed {seed}: run {stop.reason}: {stop.message}")
        with open_recording(path) as rec:
            return percent_of_baseline(rec, c.n_pathways)


def percent_of_baseline(rec, n_pathways: int) -> list[float]:
    """The result of ``rec`` per pathway (% of baseline, NaN when there is none), exactly as
    ``rig summary`` reports it: :func:`rig.analysis.results.compute` (valid test sweeps of the
    reference baseline phase; mean of the last 10 min of the recording, which ends at the
    condition's ``at_min`` after the induction onset)."""
    from rig.analysis import results

    res = results.compute(rec, pathways=range(n_pathways))
    return [math.nan if r.magnitude_percent is None else r.magnitude_percent for r in res.pathways.values()]


def _seed(c: Condition, k: int, base_seed: int) -> int:
    # slices differ between groups; a row and its vehicle (same group) run on the same slices,
    # and two-pathway rows share theirs
    key = c.group or c.name.split(":")[0]
    return base_seed + (zlib.crc32(key.encode()) % 100000) * 100 + k


def _job(args: tuple[Condition, int]) -> list[float]:
    return run_slice(*args)


def run_groups(conditions: list[Condition], n: int, base_seed: int = 0, processes: int = 2,
               progress: Callable[[str], None] | None = None) -> dict[str, list[list[float]]]:
    """Run each distinct experiment on ``n`` slices; {condition key: [per-slice % lists]}."""
    keys: dict[str, Condition] = {}
    for c in conditions:
        keys.setdefault(c.name.split(":")[0], c)
    jobs = [(c, _seed(c, k, base_seed)) for c in keys.values() for k in range(n)]
    results: dict[str, list[list[float]]] = {k: [] for k in keys}
    if processes > 1:  # on dask.distributed, like rig power (a LocalCluster of `processes` workers)
        from rig.study.execute import connect, run_dask

        client, cluster = connect(None, processes)
        try:
            out = run_dask(_job, jobs, client, label="validate-sim")
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        for (c, _), r in zip(jobs, out, strict=True):
            results[c.name.split(":")[0]].append(r)
            if progress:
                progress(f"{c.name}: {r[0]:.0f} %")
    else:
        for c, s in jobs:
            r = run_slice(c, s)
            results[c.name.split(":")[0]].append(r)
            if progress:
                progress(f"{c.name}: {r[0]:.0f} %")
    return results


def summarise(conditions: list[Condition], results: dict[str, list[list[float]]]) -> list[dict]:
    """One row per condition: {condition, kind, target, measured_mean, measured_sem, n, pass};
    a row with a vehicle also gets ``ratio_to_vehicle`` (paired slices)."""
    rows = []
    by_name = {}
    vals_of = {}
    for c in conditions:
        vals = np.array([r[c.pathway] for r in results[c.name.split(":")[0]]], dtype=float)
        vals_of[c.name] = vals
        fin = vals[np.isfinite(vals)]
        mean = float(fin.mean()) if fin.size else math.nan
        sem = float(fin.std(ddof=1) / math.sqrt(fin.size)) if fin.size > 1 else math.nan
        ok = bool(fin.size and c.lo <= mean <= c.hi)
        by_name[c.name] = mean
        rows.append({"condition": c.name, "kind": c.kind, "target": c.target,
                     "measured_mean": round(mean, 2), "measured_sem": round(sem, 2),
                     "n": int(fin.size), "pass": ok, "pass_range": [c.lo, c.hi], "source": c.source})
    for c, r in zip(conditions, rows, strict=True):
        if not c.vehicle:
            continue
        veh = by_name.get(c.vehicle)
        if veh is None or not math.isfinite(veh) or abs(veh - 100.0) < 1e-9:
            r["pass"] = False
            r["target"] += f" (needs its vehicle row {c.vehicle!r})"
            continue
        q = (by_name[c.name] - 100.0) / (veh - 100.0)
        r["ratio_to_vehicle"] = round(q, 3)
        r["vehicle"] = c.vehicle
        r["pass"] = bool(r["pass"] and c.ratio[0] <= q <= c.ratio[1])
    wt, ko = by_name.get(CONDITIONS[0].name), by_name.get(CONDITIONS[1].name)
    if wt is not None and ko is not None:  # Huber 2002: KO below WT
        for r in rows:
            if r["condition"] == CONDITIONS[1].name:
                r["pass"] = bool(r["pass"] and ko < wt)
                r["target"] += " (and < WT)"
    return rows


def with_vehicles(conds: list[Condition]) -> list[Condition]:
    """``conds`` plus every vehicle row they are compared with (in table order)."""
    names = {c.name for c in conds}
    need = names | {c.vehicle for c in conds if c.vehicle}
    return [c for c in CONDITIONS if c.name in need] + [c for c in conds if c.name not in
                                                        {k.name for k in CONDITIONS}]
