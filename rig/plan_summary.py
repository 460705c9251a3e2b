"""Summarise a plan before it runs: phases, times, pulse counts, intensities, charge."""

from __future__ import annotations

from rig.plan import Plan
from rig.rigfile import RigConfig


def plan_summary(plan: Plan, rig: RigConfig) -> dict:
    fs = plan.sample_rate_hz
    phases, t = [], 0
    total = 0
    max_uA = 0.0
    for p in plan.phases:
        pulses = sum(s.n_pulses for s in p.stimuli)
        if p.test is not None:
            pulses += len(p.test.pulse_times(0, p.duration_samples))
            max_uA = max([max_uA] + [plan.test_intensity_uA[pw] for pw in p.test.pathways])
        for s in p.stimuli:
            max_uA = max(max_uA, s.intensity_uA or max(plan.test_intensity_uA[s.pathway], 0))
        phases.append({"name": p.name, "kind": p.kind, "start_s": t / fs, "end_s": (t + p.duration_samples) / fs,
                       "pulses": pulses})
        total += pulses
        t += p.duration_samples
    width_us = plan.pulse_width_samples / fs * 1e6
    return {"name": plan.name, "duration_s": t / fs, "phases": phases, "total_pulses": total,
            "max_intensity_uA": max_uA, "pulse_width_us": width_us,
            "max_charge_per_phase_uC": max_uA * width_us * 1e-6,
            "pathways": [rig.stim[i].pathway for i in plan.pathways]}


def format_plan(s: dict) -> str:
    lines = [f"{s['name']}: valid, {s['duration_s'] / 60:.1f} min, {s['total_pulses']} pulses, "
             f"max {s['max_intensity_uA']:.0f} µA × {s['pulse_width_us']:.0f} µs "
             f"({s['max_charge_per_phase_uC']:.3f} µC per phase), pathways {', '.join(s['pathways'])}"]
    for p in s["phases"]:
        lines.append(f"  {p['start_s'] / 60:7.2f}–{p['end_s'] / 60:7.2f} min  {p['kind']:<10} {p['name']:<16} "
                     f"{p['pulses']:5d} pulses")
    return "\n".join(lines)
