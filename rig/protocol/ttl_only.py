"""What a protocol may ask of a TTL-only pathway (amplitude and width set on the isolator's front
panel, e.g. a Digitimer DS3 triggered by a DO line): it can be triggered, not dosed. Rules that
choose or change an intensity are refused at ``rig check``, each with its own line."""

from __future__ import annotations

from rig.protocol.expand_context import _Ctx
from rig.protocol.models import IOCurvePhase

WHY = "is TTL-only (no 'ao' in the rig file): its amplitude is set on the isolator's front panel"


def check_ttl_only(ctx: _Ctx) -> None:
    """Add a problem for each intensity rule aimed at a TTL-only pathway."""
    ttl = {s.pathway for s in ctx.rig.stim if s.ttl_only}
    if not ttl:
        return
    proto = ctx.proto
    main = [p for p in proto.stimulation.pathways if p in ttl]
    tracking = proto.tracking
    if main and tracking is not None and tracking.enabled:
        ctx.add(("tracking", "enabled"), f"intensity tracking needs an analog command; {main[0]} {WHY}")
    for i, ph in enumerate(proto.phases):
        pws = [p for p in (getattr(ph, "pathways", None) or proto.stimulation.pathways) if p in ttl]
        if not pws:
            continue
        if isinstance(ph, IOCurvePhase):
            ctx.add(("phases", i, "kind"), f"an I/O curve steps the intensity; {pws[0]} {WHY} "
                    "(run the curve by hand on the front panel, or wire 'ao')")
        elif getattr(ph, "intensity_uA", None) is not None:
            ctx.add(("phases", i, "intensity_uA"), f"{ph.intensity_uA:g} µA cannot be set; {pws[0]} {WHY}")
