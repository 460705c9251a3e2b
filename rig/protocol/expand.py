"""Expand a validated protocol for one rig into a :class:`rig.core.plan.Plan` (integer samples).

Every time is converted to samples once (``round(seconds × fs)``) and every pulse is placed by
integer arithmetic from its phase start (pulse k of a schedule at ``first + k × interval``), so
there is no drift however long the run. The checks that need the rig are made here and collected,
so that one run of ``rig check`` reports every problem: pathways and valves wired, pulse width a
whole number of samples, each stimulus within the rig's limits (the renderer checks again), test
intervals longer than a sweep, trains and bursts that do not overlap, drugs switched consistently.
"""

from __future__ import annotations

import math
from dataclasses import replace

from rig.core.plan import Phase, Plan, Stimulus, ValveChange
from rig.protocol.command_voltage import check_command_voltages
from rig.protocol.expand_context import _Ctx, _DrugOn
from rig.protocol.models import (
    BaselinePhase,
    ChemicalPhase,
    DrugPhase,
    FollowUpPhase,
    HFSInduction,
    IOCurvePhase,
    LFSInduction,
    PairedPulsePhase,
    PPLFSInduction,
    Protocol,
    WashoutPhase,
    _Bursts,
    _Induction,
)
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import RigConfig
from rig.protocol.ttl_only import check_ttl_only

SIM_GENOTYPES = ("WT", "Fmr1-KO", "mGluR5-KO")


def _stimulation(ctx: _Ctx) -> None:
    st, fs, lim = ctx.proto.stimulation, ctx.fs, ctx.rig.limits
    names = ctx.rig.pathway_names()
    idx = []
    for k, pw in enumerate(st.pathways):
        if pw not in names:
            ctx.add(("stimulation", "pathways", k), f"{pw!r} is not a pathway of the rig file "
                                                    f"(it has {', '.join(names)})")
        else:
            idx.append(names.index(pw))
    ctx.pathways = tuple(idx) or (0,)
    ctx.test_uA = [0.0] * len(names)
    for k, p in enumerate(idx):
        ctx.test_uA[p] = st.intensity_uA[k if len(st.intensity_uA) > 1 else 0]
    ctx.bound_uA = list(ctx.test_uA)
    exact = st.width_us * 1e-6 * fs
    ctx.width = max(1, int(round(exact)))
    if exact < 0.5 or abs(exact - round(exact)) > 1e-6 * max(1.0, exact):
        ok = sorted({max(1, int(exact)), int(exact) + 1})
        ctx.add(("stimulation", "width_us"),
                f"{st.width_us:g} µs is not a whole number of samples at {fs:g} Hz "
                f"(one sample = {1e6 / fs:g} µs; e.g. {' or '.join(f'{n * 1e6 / fs:g}' for n in ok)} µs)")
    if st.width_us > lim.max_width_us:
        ctx.add(("stimulation", "width_us"), f"{st.width_us:g} µs exceeds the rig limit of {lim.max_width_us:g} µs")
    ctx.pre, ctx.post = ctx.samples(st.sweep_pre_ms / 1000), ctx.samples(st.sweep_post_ms / 1000)
    ctx.biphasic = st.biphasic
    if st.paired_interval_ms is not None:
        ctx.test_offsets = (0, max(1, ctx.samples(st.paired_interval_ms / 1000)))
    pair = ("stimulation", "paired_interval_ms")
    for k, uA in enumerate(st.intensity_uA):
        test = Stimulus(0, 0, "test", width_samples=ctx.width, biphasic=st.biphasic, pulse_offsets=ctx.test_offsets)
        ctx.check({"default": ("stimulation", "intensity_uA", k), "frequency": pair, "overlap": pair}, test, uA)


def _periodic(ctx: _Ctx, i: int, ph, duration_min: float) -> Phase:
    """baseline / follow_up / washout / drug / chemical: test pulses every ``interval_s``."""
    n = ctx.samples(duration_min * 60)
    if n < ctx.fs:
        key = "wash_in_min" if ph.kind == "drug" else "duration_min"
        ctx.add(("phases", i, key), f"{duration_min:g} min is shorter than 1 s")
        n = int(ctx.fs)
    return Phase("", ph.kind, n, test=ctx.test_schedule(i, ph.interval_s))


def _valve_line(ctx: _Ctx, i: int, valve: str | None) -> int | None:
    if valve is None:
        return None
    names = ctx.rig.valve_names()
    if valve not in names:
        have = f"valves: {', '.join(names)}" if names else "the rig file has no [[valves]]"
        ctx.add(("phases", i, "valve"), f"{valve!r} is not a valve of the rig file ({have})")
        return None
    for on in ctx.drugs_on.values():
        if on.valve == valve:
            ctx.add(("phases", i, "valve"), f"valve {valve!r} still carries {on.drug} (phases[{on.phase}]); "
                                            "add a washout phase first")
            return None
    return ctx.rig.valve_index(valve)


def _drug(ctx: _Ctx, i: int, ph: DrugPhase) -> Phase:
    p = _periodic(ctx, i, ph, ph.wash_in_min)
    key = ph.drug.lower()
    if key in ctx.drugs_on:
        ctx.add(("phases", i, "drug"), f"{ph.drug} is already on since phases[{ctx.drugs_on[key].phase}] "
                                       "(add a washout phase first)")
    line = _valve_line(ctx, i, ph.valve)
    ctx.drugs_on[key] = _DrugOn(i, ph.drug, ph.concentration_uM, ph.valve, line)
    valves = (ValveChange(0, line, 1),) if line is not None else ()
    info = {"drug": ph.drug, "concentration_uM": ph.concentration_uM, "valve": ph.valve, "valve_line": line,
            "wash_in_s": ph.wash_in_min * 60}
    if ph.pre_incubation_min > 0:
        info["pre_incubation_s"] = ph.pre_incubation_min * 60
    if ph.pre_incubation_min > 0 and i != 0:
        ctx.add(("phases", i, "pre_incubation_min"), "pre-incubation happens before the recording: only "
                                                     "the first phase (phases[0]) may have one")
    return Phase("", "drug", p.duration_samples, test=p.test, valves=valves, info=info)


def _washout(ctx: _Ctx, i: int, ph: WashoutPhase) -> Phase:
    p = _periodic(ctx, i, ph, ph.duration_min)
    if ph.drug is None:
        off = list(ctx.drugs_on.values())
        if not off:
            ctx.add(("phases", i, "kind"), "washout with no drug on (no earlier drug phase)")
    else:
        on = ctx.drugs_on.get(ph.drug.lower())
        if on is None:
            ctx.add(("phases", i, "drug"), f"{ph.drug} is not on here (drugs on: "
                                           f"{', '.join(d.drug for d in ctx.drugs_on.values()) or 'none'})")
        off = [on] if on else []
    for d in off:
        ctx.drugs_on.pop(d.drug.lower(), None)
    valves = tuple(ValveChange(0, d.line, 0) for d in off if d.line is not None)
    info = {"drugs": [{"drug": d.drug, "concentration_uM": d.concentration_uM, "valve": d.valve,
                       "valve_line": d.line} for d in off]}
    return Phase("", "washout", p.duration_samples, test=p.test, valves=valves, info=info)


def _chemical(ctx: _Ctx, i: int, ph: ChemicalPhase) -> Phase:
    p = _periodic(ctx, i, ph, ph.duration_min)
    if ph.drug.lower() in ctx.drugs_on:
        ctx.add(("phases", i, "drug"), f"{ph.drug} is already on since phases[{ctx.drugs_on[ph.drug.lower()].phase}]")
    line = _valve_line(ctx, i, ph.valve)
    # the valve opens at the phase start and closes on the phase's last sample
    valves = (ValveChange(0, line, 1), ValveChange(p.duration_samples - 1, line, 0)) if line is not None else ()
    info = {"drug": ph.drug, "concentration_uM": ph.concentration_uM, "valve": ph.valve, "valve_line": line,
            "duration_s": ph.duration_min * 60}
    return Phase("", "chemical", p.duration_samples, test=p.test, valves=valves, info=info)


def _sweeps_phase(ctx: _Ctx, i: int, kind: str, stims: list[Stimulus], interval: int, info: dict) -> Phase:
    """A phase made of one stimulus (sweep) per ``interval``; it ends one interval after the last
    onset, or after the last sweep if that is later."""
    if not stims:
        return Phase("", kind, interval, info=info)
    last = stims[-1]
    end = max(last.sample - ctx.first_offset(interval) + interval, last.sweep_bounds()[1] + 1)
    return Phase("", kind, end, stimuli=tuple(stims), info=info)


def _phase_pathways(ctx: _Ctx, i: int, names: list[str] | None) -> tuple[int, ...]:
    if names is None:
        return ctx.pathways
    out = [ctx.pathway(("phases", i, "pathways", k), n) for k, n in enumerate(names)]
    return tuple(p for p in out if p is not None) or ctx.pathways


def _io_curve(ctx: _Ctx, i: int, ph: IOCurvePhase) -> Phase:
    pws = _phase_pathways(ctx, i, ph.pathways)
    interval = ctx.test_schedule(i, ph.interval_s).interval_samples
    first = ctx.first_offset(interval)
    levels = ph.intensities()
    field_of = "intensities_uA" if ph.intensities_uA is not None else "stop_uA"
    for j, uA in enumerate(levels):
        loc = ("phases", i, field_of, j) if ph.intensities_uA is not None else ("phases", i, field_of)
        if not ctx.check({"default": loc, "width": ("stimulation", "width_us")},
                         Stimulus(0, 0, "io", width_samples=ctx.width, biphasic=ctx.biphasic), uA):
            break
    stims, k = [], 0
    for uA in levels:
        for r in range(ph.repeats):
            for pw in pws:
                stims.append(Stimulus(first + k * interval, pw, "io", intensity_uA=uA, width_samples=ctx.width,
                                      biphasic=ctx.biphasic, pre_samples=ctx.pre, post_samples=ctx.post,
                                      label=f"I/O {uA:g} µA ({r + 1}/{ph.repeats})"))
                k += 1
    info: dict = {"intensities_uA": levels, "repeats": ph.repeats, "pathways": list(pws)}
    if ph.set_intensity is not None:
        info.update(ph.set_intensity.model_dump())
        for pw in pws:  # the rule may set any intensity of the curve as the new test intensity
            ctx.bound_uA[pw] = max(ctx.bound_uA[pw], max(levels))
    return _sweeps_phase(ctx, i, "io_curve", stims, interval, info)


def _paired_pulse(ctx: _Ctx, i: int, ph: PairedPulsePhase) -> Phase:
    pws = _phase_pathways(ctx, i, ph.pathways)
    isis = [ctx.samples(ms / 1000) for ms in ph.intervals_ms]
    longest = ctx.sweep_samples + max(isis)
    interval = ctx.samples(ph.interval_s)
    if interval <= longest:
        ctx.add(("phases", i, "interval_s"), f"{ph.interval_s:g} s is not longer than the longest paired-pulse "
                                             f"sweep ({longest / ctx.fs:g} s)")
        interval = longest + 1
    first = ctx.first_offset(interval)
    for j, isi in enumerate(isis):
        probe = Stimulus(0, 0, "paired", (0, max(isi, 0)), width_samples=ctx.width, biphasic=ctx.biphasic)
        for pw in pws:
            if not ctx.check({"default": ("phases", i, "intervals_ms", j), "width": ("stimulation", "width_us"),
                              "intensity": ctx.test_uA_loc(pw)}, probe, ctx.max_test_uA(pw)):
                break
    stims, k = [], 0
    for r in range(ph.repeats):
        for ms, isi in zip(ph.intervals_ms, isis, strict=True):
            for pw in pws:
                stims.append(Stimulus(first + k * interval, pw, "paired", (0, isi), width_samples=ctx.width,
                                      biphasic=ctx.biphasic, pre_samples=ctx.pre, post_samples=ctx.post,
                                      label=f"PP {ms:g} ms ({r + 1}/{ph.repeats})"))
                k += 1
    info = {"intervals_ms": list(ph.intervals_ms), "repeats": ph.repeats, "pathways": list(pws)}
    return _sweeps_phase(ctx, i, "paired_pulse", stims, interval, info)


def _induction(ctx: _Ctx, i: int, ph: _Induction) -> Phase:
    loc = ("phases", i)
    pw = ctx.pathway(loc + ("pathway",), ph.pathway)
    pw = 0 if pw is None else pw
    uA = ph.intensity_uA if ph.intensity_uA is not None else ctx.max_test_uA(pw)
    uA_loc = loc + ("intensity_uA",) if ph.intensity_uA is not None else ctx.test_uA_loc(pw)
    mk = dict(pathway=pw, intensity_uA=ph.intensity_uA, width_samples=ctx.width, biphasic=ctx.biphasic,
              pre_samples=ctx.pre, post_samples=ctx.post)
    info: dict = {"protocol": ph.pattern, "pathway": pw, "intensity_uA": ph.intensity_uA}
    info.update(ph.model_dump(exclude={"kind", "name", "pattern", "pathway", "intensity_uA", "settle_s"}))
    if isinstance(ph, HFSInduction):  # info["pulses"] is the phase total
        info["pulses_per_train"] = info.pop("pulses")
    if isinstance(ph, _Bursts | HFSInduction):
        if isinstance(ph, HFSInduction):
            ppb, f, bursts, ibi_s, f_field = ph.pulses, ph.frequency_hz, 1, 0.0, "frequency_hz"
        else:
            ppb, f, bursts, ibi_s, f_field = (ph.pulses_per_burst, ph.intra_burst_hz, ph.bursts,
                                              ph.burst_interval_s(), "intra_burst_hz")
        isi, ibi = ctx.samples(1.0 / f), ctx.samples(ibi_s)
        burst_len = (ppb - 1) * isi + ctx.pulse_samples
        if bursts > 1 and ibi <= burst_len:
            field_ = "burst_interval_ms" if getattr(ph, "burst_interval_ms", None) is not None else "burst_hz"
            ctx.add(loc + (field_,), f"bursts overlap: a burst lasts {burst_len / ctx.fs * 1e3:g} ms, "
                                     f"burst onsets are {ibi / ctx.fs * 1e3:g} ms apart")
        offsets = tuple(b * ibi + k * isi for b in range(bursts) for k in range(ppb))
        tstep = ctx.samples(ph.train_interval_s or 0.0)
        train_sweep = ctx.pre + offsets[-1] + ctx.post
        if ph.trains > 1 and tstep <= train_sweep:
            ctx.add(loc + ("train_interval_s",), f"{ph.train_interval_s:g} s: trains overlap (a train and its "
                                                 f"sweep last {train_sweep / ctx.fs:g} s)")
            tstep = train_sweep + 1
        probe = Stimulus(0, pw, "train", offsets, width_samples=ctx.width, biphasic=ctx.biphasic)
        ctx.check({"default": uA_loc, "width": ("stimulation", "width_us"), "overlap": loc + (f_field,),
                   "frequency": loc + (f_field,), "train": loc + ("pulses" if bursts == 1 else "bursts",)},
                  probe, uA)
        stims = [Stimulus(ctx.pre + t * tstep, pulse_offsets=offsets, kind="train",
                          label=f"{ph.pattern} train {t + 1}/{ph.trains}", **mk) for t in range(ph.trains)]
        info["train_s"] = offsets[-1] / ctx.fs
        info["train_interval_samples"] = tstep
    else:
        if isinstance(ph, LFSInduction):
            n, offsets, kind, what = ph.pulses, (0,), "train", "pulse"
        else:
            assert isinstance(ph, PPLFSInduction)
            pair = ctx.samples(ph.pair_interval_ms / 1000)
            n, offsets, kind, what = ph.pairs, (0, pair), "paired", "pair"
        period = ctx.samples(1.0 / ph.frequency_hz)
        sweep = ctx.pre + offsets[-1] + ctx.post
        probe = Stimulus(0, pw, kind, offsets, width_samples=ctx.width, biphasic=ctx.biphasic)
        ok = ctx.check({"default": uA_loc, "width": ("stimulation", "width_us"),
                        "overlap": loc + ("pair_interval_ms",), "frequency": loc + ("pair_interval_ms",)}, probe, uA)
        if period <= sweep:
            ctx.add(loc + ("frequency_hz",), f"{ph.frequency_hz:g} Hz: one {what} every {period / ctx.fs * 1e3:g} ms "
                                             f"is not longer than its sweep ({sweep / ctx.fs * 1e3:g} ms); use "
                                             "pattern 'train' for faster trains")
            period = sweep + 1
        stims = [Stimulus(ctx.pre + k * period, pulse_offsets=offsets, kind=kind,
                          label=f"{ph.pattern} {what} {k + 1}/{n}", **mk) for k in range(n)]
        if ok:
            ctx.spacing(loc + ("frequency_hz",), stims[:3])
        info["period_samples"] = period
    info["pulses"] = sum(s.n_pulses for s in stims)
    end = stims[-1].sweep_bounds()[1] + ctx.samples(ph.settle_s)
    return Phase("", "induction", end, stimuli=tuple(stims), info=info)


def _baseline(ctx: _Ctx, i: int, ph: BaselinePhase) -> Phase:
    p = _periodic(ctx, i, ph, ph.duration_min)
    info: dict = {}
    if ph.stability is not None:
        info = {"stability": ph.stability.model_dump(), "on_unstable": ph.on_unstable}
    mx = ctx.samples(ph.max_duration_min * 60) if ph.max_duration_min is not None else None
    return Phase("", "baseline", p.duration_samples, test=p.test, max_duration_samples=mx, info=info)


def _check_across_phases(ctx: _Ctx, phases: list[Phase]) -> None:
    """Pulses of neighbouring phases on one pathway (a last test pulse and the next phase's first
    stimulus) must not overlap or come faster than the rig's frequency limit."""
    lim = ctx.rig.stim_limits()
    min_gap = max(ctx.pulse_samples, math.ceil(ctx.fs / lim.max_frequency_hz - 1e-9))
    t = 0
    prev_last: dict[int, tuple[int, int]] = {}  # pathway → (absolute last pulse, phase index)
    for i, p in enumerate(phases):
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        per = p.test.per_pathway(0, p.duration_samples) if p.test else {}
        onsets = [(s, pw) for pw, (_, a, b) in per.items() for s in (a, b + p.test.pulse_offsets[-1])]
        onsets += [(s.sample + o, s.pathway) for s in p.stimuli for o in (s.pulse_offsets[0], s.pulse_offsets[-1])]
        for s, pw in onsets:
            first[pw] = min(first.get(pw, s), s)
            last[pw] = max(last.get(pw, s), s)
        for pw, s in first.items():
            if pw in prev_last and t + s - prev_last[pw][0] < min_gap:
                gap_ms = (t + s - prev_last[pw][0]) / ctx.fs * 1e3
                ctx.add(("phases", prev_last[pw][1]), f"its last pulse comes {gap_ms:g} ms before the first pulse of "
                        f"phases[{i}] on the same pathway (the rig allows {lim.max_frequency_hz:g} Hz): shorten "
                        "or lengthen the phase")
        for pw, s in last.items():
            prev_last[pw] = (t + s, i)
        t += p.duration_samples


def _unique_name(name: str, used: set[str]) -> str:
    out, k = name, 2
    while out in used:
        out, k = f"{name} {k}", k + 1
    used.add(out)
    return out


def expand_checked(proto: Protocol, rig: RigConfig, name: str, text: str = "") -> Plan:
    """Expand ``proto`` for ``rig``; raise :class:`InvalidFile` listing every problem found."""
    ctx = _Ctx(proto, rig, rig.sample_rate_hz)
    _stimulation(ctx)
    own_windows = ctx.windows_fit()
    check_ttl_only(ctx)
    if rig.backend == "sim" and rig.sim.genotype is None and proto.metadata.genotype not in (*SIM_GENOTYPES, "unknown"):
        ctx.add(("metadata", "genotype"), f"{proto.metadata.genotype!r}: the simulated slice knows "
                                          f"{', '.join(SIM_GENOTYPES)}")
    phases: list[Phase] = []
    used: set[str] = set()
    for i, ph in enumerate(proto.phases):
        if isinstance(ph, BaselinePhase):
            p = _baseline(ctx, i, ph)
        elif isinstance(ph, FollowUpPhase):
            p = _periodic(ctx, i, ph, ph.duration_min)
        elif isinstance(ph, DrugPhase):
            p = _drug(ctx, i, ph)
        elif isinstance(ph, WashoutPhase):
            p = _washout(ctx, i, ph)
        elif isinstance(ph, ChemicalPhase):
            p = _chemical(ctx, i, ph)
        elif isinstance(ph, IOCurvePhase):
            p = _io_curve(ctx, i, ph)
        elif isinstance(ph, PairedPulsePhase):
            p = _paired_pulse(ctx, i, ph)
        else:
            p = _induction(ctx, i, ph)
        default = ph.kind.replace("_", "-") if ph.kind != "induction" else ph.pattern.upper().replace("_", "-")
        phases.append(replace(p, name=_unique_name(ph.name or default, used)))
    if not ctx.problems:
        _check_across_phases(ctx, phases)
        check_command_voltages(ctx, phases)
    if ctx.problems:
        raise InvalidFile(name, text, ctx.problems)
    return Plan(
        name=proto.experiment.name, sample_rate_hz=ctx.fs, phases=tuple(phases), pathways=ctx.pathways,
        test_intensity_uA=tuple(ctx.test_uA), pulse_width_samples=ctx.width, biphasic=ctx.biphasic,
        sweep_pre_samples=ctx.pre, sweep_post_samples=ctx.post,
        metadata={**proto.metadata.model_dump(), "description": proto.experiment.description},
        closed_loop=_closed_loop(proto),
        pathway_names=tuple(rig.pathway_names()),
        analysis_windows={k: (list(v) if isinstance(v, tuple) else v) for k, v in proto.analysis.windows.items()},
        pathway_windows=own_windows,
    )


def _closed_loop(proto: Protocol) -> dict:
    """Closed-loop settings as plain data for the controller (alarms, intensity tracking)."""
    out: dict = {}
    if proto.alarms is not None and proto.alarms.model_fields_set:  # an empty [alarms] keeps the defaults
        out["alarms"] = proto.alarms.model_dump()
    if proto.tracking is not None:
        out["tracking"] = proto.tracking.model_dump()
    given = proto.analysis.model_fields_set & {"auto_windows", "settle_sweeps", "average"}
    if given:  # the controller's defaults otherwise (auto windows on, 10 settle sweeps, no averaging)
        out["analysis"] = {k: getattr(proto.analysis, k) for k in sorted(given)}
    return out
