"""The isolator's analog command of every planned stimulus must fit the AO channel's range.

A stimulus of ``I`` µA on a pathway whose isolator takes ``uA_per_V`` needs ``I / uA_per_V`` volts
on its AO channel; the rig file's ``[[stim]] ao_range_V`` (±10 V by default) bounds it. Checked at
``rig check`` for the test intensities (their closed-loop bound), every I/O intensity and every
induction, so a run never arms and then fails on a command the board cannot produce.
"""

from __future__ import annotations

from rig.core.plan import Phase
from rig.protocol.expand_context import _Ctx
from rig.protocol.problems import Loc


def _check(ctx: _Ctx, loc: Loc, pathway: int, uA: float, seen: set) -> None:
    stim = ctx.rig.stim[pathway]
    if stim.ao is None or (loc, pathway) in seen:
        return
    volts = abs(uA) / stim.uA_per_V
    if volts > stim.ao_range_V * (1 + 1e-9):
        seen.add((loc, pathway))
        ctx.add(loc, f"{uA:g} µA needs a {volts:.4g} V command on {stim.pathway} ({stim.ao}, uA_per_V "
                     f"{stim.uA_per_V:g}), beyond the rig file's AO range ±{stim.ao_range_V:g} V: allowed up to "
                     f"{stim.ao_range_V * stim.uA_per_V:g} µA on {stim.pathway}")


def check_command_voltages(ctx: _Ctx, phases: list[Phase]) -> None:
    """Add a problem for every planned stimulus whose AO command exceeds its channel's range."""
    seen: set = set()
    for pw in ctx.pathways:
        _check(ctx, ctx.test_uA_loc(pw), pw, ctx.max_test_uA(pw), seen)
    for i, (ph, spec) in enumerate(zip(phases, ctx.proto.phases, strict=True)):
        for s in ph.stimuli:
            if s.intensity_uA is None:
                _check(ctx, ctx.test_uA_loc(s.pathway), s.pathway, ctx.max_test_uA(s.pathway), seen)
                continue
            if spec.kind == "io_curve":
                levels = spec.intensities()
                j = levels.index(s.intensity_uA) if s.intensity_uA in levels else 0
                key: Loc = (("phases", i, "intensities_uA", j) if spec.intensities_uA is not None
                            else ("phases", i, "stop_uA"))
            else:
                key = ("phases", i, "intensity_uA")
            _check(ctx, key, s.pathway, s.intensity_uA, seen)
