"""Summarise a plan before it runs: phases, times, pulses per pathway, trains, intensity, charge.

Intensities that the closed loop may change (the test intensity after an I/O curve with a rule)
are counted at the highest value they can take, so ``max_intensity_uA`` and the charges are
upper bounds. Charge per pulse phase is ``intensity × width``; a biphasic pulse has two phases of
opposite sign (net zero) and both count in ``total_charge_uC``.
"""

from __future__ import annotations

from rig.core.plan import AUTO_WINDOWS_DEFAULT, SETTLE_SWEEPS_DEFAULT, Phase, Plan
from rig.protocol.rigfile import RigConfig


def _detail(p: Phase, fs: float) -> str:
    i = p.info
    if p.kind == "induction":
        pat = i.get("protocol", "train")
        trains = (f"{i['trains']} trains {i['train_interval_samples'] / fs:g} s apart" if i.get("trains", 1) > 1
                  else "1 train")
        if pat in ("tbs", "train"):
            ibi = i.get("burst_interval_ms") or (1000 / i["burst_hz"] if i.get("burst_hz") else 0)
            return (f"{pat}: {trains}, each {i['bursts']} bursts × {i['pulses_per_burst']} pulses @ "
                    f"{i['intra_burst_hz']:g} Hz, burst onsets {ibi:g} ms apart ({i['train_s']:.3g} s)")
        if pat == "hfs":
            return (f"hfs: {trains}, each {i['pulses_per_train']} pulses @ {i['frequency_hz']:g} Hz "
                    f"({i['train_s']:.3g} s)")
        if pat == "lfs":
            return (f"lfs: {i['pulses']} pulses @ {i['frequency_hz']:g} Hz ({i['pulses'] / i['frequency_hz'] / 60:.3g} "
                    "min), one sweep per pulse")
        if pat == "pp_lfs":
            return (f"pp_lfs: {i['pairs']} pairs {i['pair_interval_ms']:g} ms apart @ {i['frequency_hz']:g} Hz "
                    f"({i['pairs'] / i['frequency_hz'] / 60:.3g} min), one sweep per pair")
    if p.kind in ("drug", "chemical"):
        v = f" via valve {i['valve']!r}" if i.get("valve") else " (manual perfusion)"
        return f"{i['drug']} {i['concentration_uM']:g} µM{v}"
    if p.kind == "washout":
        return "wash out " + (", ".join(d["drug"] for d in i.get("drugs", [])) or "nothing")
    if p.kind == "io_curve":
        rule = f"; then {i['rule']} {i.get('percent', i.get('margin_percent'))}%" if "rule" in i else ""
        lv = i["intensities_uA"]
        return f"{len(lv)} intensities {min(lv):g}–{max(lv):g} µA × {i['repeats']}{rule}"
    if p.kind == "paired_pulse":
        return f"intervals {', '.join(f'{x:g}' for x in i['intervals_ms'])} ms × {i['repeats']}"
    if p.kind == "baseline" and "stability" in i:
        s = i["stability"]
        return (f"gated: drift < {s['max_drift_percent_per_10min']:g} %/10 min, halves < "
                f"{s['max_halves_diff_percent']:g} % over {s['window_min']:g} min; unstable → {i['on_unstable']}")
    return ""


def plan_summary(plan: Plan, rig: RigConfig) -> dict:
    """The plan as a JSON-ready dict (keys of ``rig check --json``)."""
    fs = plan.sample_rate_hz
    names = list(plan.pathway_names) or rig.pathway_names()
    width_us = plan.pulse_width_samples / fs * 1e6
    n_phases = 2 if plan.biphasic else 1
    bound = list(plan.test_intensity_uA)
    phases, t, t_max = [], 0, 0
    total, max_uA = 0, 0.0
    per_pw_total: dict[str, int] = {}
    for p in plan.phases:
        counts: dict[str, int] = {}
        uA_max, charge = 0.0, 0.0

        def add(pw: int, n: int, uA: float, counts: dict = counts) -> None:
            nonlocal uA_max, charge
            counts[names[pw]] = counts.get(names[pw], 0) + n
            uA_max = max(uA_max, uA)
            charge += n * n_phases * uA * width_us * 1e-6

        if p.test is not None:
            for pw, (n, _, _) in sorted(p.test.per_pathway(0, p.duration_samples).items()):
                add(pw, n * len(p.test.pulse_offsets), bound[pw])  # closed form: a 100-day plan is instant
        for s in p.stimuli:
            add(s.pathway, s.n_pulses, s.intensity_uA if s.intensity_uA is not None else bound[s.pathway])
        if p.kind == "io_curve" and "rule" in p.info:
            for pw in p.info["pathways"]:
                bound[pw] = max(bound[pw], max(p.info["intensities_uA"]))
        pulses = sum(counts.values())
        entry = {"name": p.name, "kind": p.kind, "start_s": t / fs, "end_s": (t + p.duration_samples) / fs,
                 "pulses": pulses, "pulses_per_pathway": counts, "sweeps": len(p.stimuli) + (
                     p.test.count(0, p.duration_samples) if p.test else 0),
                 "max_intensity_uA": uA_max, "max_charge_per_pulse_phase_uC": uA_max * width_us * 1e-6,
                 "total_charge_uC": charge, "detail": _detail(p, fs)}
        if p.test is not None:
            entry["test_interval_s"] = p.test.interval_samples / fs
            if len(p.test.pulse_offsets) > 1:
                entry["test_paired_interval_ms"] = p.test.pulse_offsets[1] / fs * 1e3
        if p.gated:
            entry["max_end_s"] = (t_max + p.max_duration_samples) / fs
        if p.kind == "induction":
            entry["trains"] = [{"start_s": (t + s.sample) / fs, "end_s": (t + s.sample + s.last_pulse_end) / fs,
                                "pulses": s.n_pulses} for s in p.stimuli[:20]]
        phases.append(entry)
        total += pulses
        max_uA = max(max_uA, uA_max)
        for k, v in counts.items():
            per_pw_total[k] = per_pw_total.get(k, 0) + v
        t += p.duration_samples
        t_max += p.max_duration_samples if p.gated else p.duration_samples
    return {"name": plan.name, "duration_s": t / fs, "max_duration_s": t_max / fs, "phases": phases,
            "windows": _windows_plan(plan, names),
            "total_pulses": total, "pulses_per_pathway": per_pw_total, "max_intensity_uA": max_uA,
            "pulse_width_us": width_us, "biphasic": plan.biphasic,
            "max_charge_per_pulse_phase_uC": max_uA * width_us * 1e-6,
            "sample_rate_hz": fs, "pathways": [names[i] for i in plan.pathways],
            "limits": rig.limits.model_dump()}


# fewer baseline sweeps than this per pathway after the auto windows' settling ones: `rig check` warns
MIN_COUNTED_BASELINE_SWEEPS = 10


def _windows_plan(plan: Plan, names: list[str]) -> dict:
    """How the analysis windows are chosen: fixed, or placed from the first ``settle_sweeps`` baseline
    test sweeps of each pathway (auto windows), which then do not count in its baseline."""
    an = (plan.closed_loop or {}).get("analysis", {})
    auto = bool(an.get("auto_windows", AUTO_WINDOWS_DEFAULT))
    out: dict = {"auto_windows": auto}
    if not auto:
        return out
    settle = int(an.get("settle_sweeps", SETTLE_SWEEPS_DEFAULT))
    base = next((p for p in plan.phases if p.kind == "baseline" and p.test is not None), None)
    if base is None:  # proposals are applied only in a baseline
        return {"auto_windows": False, "reason": "no baseline phase"}
    per = base.test.per_pathway(0, base.duration_samples)
    counted = {names[pw]: max(0, n - settle) for pw, (n, _, _) in sorted(per.items())}
    out.update(settle_sweeps=settle, baseline_sweeps_counted=counted)
    return out


def _windows_line(w: dict) -> str:
    if not w.get("auto_windows"):
        why = w.get("reason", "auto_windows = false")
        return f"windows: fixed (the protocol's, else the detector defaults; {why})"
    counted = w["baseline_sweeps_counted"]
    n = ", ".join(f"{k} {v}" for k, v in counted.items())
    few = [k for k, v in counted.items() if v < MIN_COUNTED_BASELINE_SWEEPS]
    warn = (f" — warning: {', '.join(few)} keep fewer than {MIN_COUNTED_BASELINE_SWEEPS}; lengthen the baseline "
            "or set [analysis] auto_windows = false" if few else "")
    return (f"windows: placed per pathway from its first {w['settle_sweeps']} baseline test sweeps (auto windows), "
            f"which do not count in its baseline: {n} sweeps counted{warn}")


def _mmss(s: float) -> str:
    return f"{int(s // 60):4d}:{s % 60:05.2f}"


def format_plan(s: dict) -> str:
    """Human-readable summary: one header line, one line per phase (+ its detail)."""
    longer = f" (up to {s['max_duration_s'] / 60:.1f} min if gated phases extend)" \
        if s["max_duration_s"] > s["duration_s"] else ""
    lines = [f"{s['name']}: valid, {s['duration_s'] / 60:.1f} min{longer}, {s['total_pulses']} pulses "
             f"({', '.join(f'{k} {v}' for k, v in s['pulses_per_pathway'].items())}), "
             f"max {s['max_intensity_uA']:g} µA × {s['pulse_width_us']:g} µs"
             f"{' biphasic' if s['biphasic'] else ''} = {s['max_charge_per_pulse_phase_uC']:.3g} µC per pulse phase "
             f"(limit {s['limits']['max_charge_uC']:g})"]
    lines.append(f"  {'start':>10}  {'end':>10}  {'kind':<12} {'name':<18} {'pulses':>6}  per pathway")
    for p in s["phases"]:
        per = ", ".join(f"{k} {v}" for k, v in p["pulses_per_pathway"].items())
        lines.append(f"  {_mmss(p['start_s'])}  {_mmss(p['end_s'])}  {p['kind']:<12} {p['name']:<18} "
                     f"{p['pulses']:6d}  {per}  max {p['max_intensity_uA']:g} µA, "
                     f"{p['total_charge_uC']:.3g} µC total")
        extra = p["detail"]
        if p.get("test_interval_s"):
            pair = f"test pair ({p['test_paired_interval_ms']:g} ms apart)" if p.get("test_paired_interval_ms") else ""
            extra = (extra + "; " if extra else "") + f"{pair or 'test pulse'} every {p['test_interval_s']:g} s"
        if extra:
            lines.append(f"  {'':>10}  {'':>10}  {'':<12} {extra}")
        for k, tr in enumerate(p.get("trains", [])[:4] if p["kind"] == "induction" and
                               len(p.get("trains", [])) <= 4 else []):
            lines.append(f"  {'':>10}  {'':>10}  {'':<12}   train {k + 1}: {_mmss(tr['start_s'])} – "
                         f"{_mmss(tr['end_s'])}, {tr['pulses']} pulses")
    lines.append(_windows_line(s["windows"]))
    return "\n".join(lines)
