"""The simulated rig as the rig file wires it: gain telegraph, isolator monitors, TTL-only
isolators and wiring faults around the virtual slice (``drivers.sim.wiring``)."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.sim.wiring import AIRole, Isolator, WiredSlice, WiringFault, parse_wiring_fault
from rig.core.errors import UserError
from rig.protocol.rigfile import RigConfig


def parse_faults(specs: Sequence[str]) -> tuple[WiringFault, ...]:
    """``--sim-fault`` values → faults; a bad one is a one-line UserError (exit 2)."""
    out = []
    for spec in specs:
        try:
            out.append(parse_wiring_fault(spec))
        except ValueError as exc:
            raise UserError(f"--sim-fault: {exc}") from None
    return tuple(out)


def needs_wiring(rig: RigConfig, faults: Sequence[WiringFault]) -> bool:
    """True when the plain slice is not enough: telegraph/monitor inputs, TTL-only isolators, faults."""
    return bool(faults) or any(a.kind != "field" for a in rig.ai) or any(s.ttl_only for s in rig.stim)


def n_field_channels(rig: RigConfig) -> int:
    return sum(a.kind == "field" for a in rig.ai)


def wire_slice(rig: RigConfig, inner: object, seed: int, faults: Sequence[WiringFault],
               panel: dict[str, tuple[float, float]] | None) -> WiredSlice:
    """``inner`` (one row per field channel) behind the rig file's isolators, amplifier and monitors."""
    panel = panel or {}
    omap = rig.output_map()
    isolators = []
    for k, s in enumerate(rig.stim):
        if s.ttl_only:
            uA, width_us = panel.get(s.pathway, (0.0, 0.0))
            isolators.append(Isolator(None, omap.trigger_line_for_pathway[k], uA,
                                      max(1, round(width_us * 1e-6 * rig.sample_rate_hz)) if uA else 0))
        else:
            isolators.append(Isolator(omap.ao_for_pathway[k]))
    roles, field_k, pws = [], 0, rig.pathway_names()
    for a in rig.ai:
        if a.kind == "field":
            roles.append(AIRole("field", field_k))
            field_k += 1
        elif a.kind == "telegraph":
            roles.append(AIRole("telegraph"))
        else:
            roles.append(AIRole("monitor", pws.index(a.pathway), a.monitor_uA_per_V))
    chk = rig.wiring_checks()
    table = chk.telegraph and chk.telegraph.table
    return WiredSlice(inner, rig.sample_rate_hz, roles, isolators, rig.scale_gains()[0], table or None,
                      tuple(faults), seed)
