"""What is in the perfusion: which drug each valve line carries, and when drugs are on.

A simulated slice needs to know the reservoir behind each valve (``valves=[(line, drug, µM)]``)
so that a DO line going high washes that drug in; drugs given by hand (no valve) are listed
with their planned start and end samples (``bath_schedule``).
"""

from __future__ import annotations

from rig.core.plan import Plan


def valve_contents(plan: Plan) -> list[tuple[int, str, float]]:
    """(DO line index, drug name as written, concentration µM) for every valve the plan opens."""
    out: list[tuple[int, str, float]] = []
    for p in plan.phases:
        if p.kind in ("drug", "chemical") and p.info.get("valve_line") is not None:
            item = (int(p.info["valve_line"]), str(p.info["drug"]), float(p.info["concentration_uM"]))
            if item not in out:
                out.append(item)
    return out


def pre_incubation(plan: Plan) -> dict[str, tuple[float, float]]:
    """{drug: (µM, seconds)} the slice sat in before the recording (the first phase's
    ``pre_incubation_min``); empty when the protocol has none."""
    first = plan.phases[0] if plan.phases else None
    if first is None or first.kind != "drug" or not first.info.get("pre_incubation_s"):
        return {}
    return {str(first.info["drug"]): (float(first.info["concentration_uM"]), float(first.info["pre_incubation_s"]))}


def bath_schedule(plan: Plan) -> list[tuple[int, int | None, str, float]]:
    """(start sample, end sample or None = to the end, drug, µM) of every drug the plan applies,
    valve or not, at the planned (minimum) phase times."""
    out: list[tuple[int, int | None, str, float]] = []
    on: dict[str, int] = {}
    for t, p in zip(plan.phase_starts(), plan.phases, strict=True):
        if p.kind == "drug":
            on[p.info["drug"].lower()] = len(out)
            out.append((t, None, p.info["drug"], float(p.info["concentration_uM"])))
        elif p.kind == "chemical":
            out.append((t, t + p.duration_samples, p.info["drug"], float(p.info["concentration_uM"])))
        elif p.kind == "washout":
            for d in p.info.get("drugs", []):
                k = on.pop(d["drug"].lower(), None)
                if k is not None:
                    s, _, name, c = out[k]
                    out[k] = (s, t, name, c)
    return out
