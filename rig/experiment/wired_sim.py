"""The simulated rig as the rig file wires it: gain telegraph, isolator monitors, TTL-only
isolators and wiring faults around the virtual slice (``drivers.sim.wiring``), and the slice
faults a user can rehearse (``drivers.sim.slice_faults``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from drivers.sim.slice_faults import SLICE_FAULTS, FaultySlice, SliceFault
from drivers.sim.wiring import WIRING_FAULTS, AIRole, Isolator, WiredSlice, WiringFault
from rig.core.errors import UserError
from rig.protocol.rigfile import RigConfig

_SPEC = re.compile(r"^(?P<name>[a-z][a-z_0-9-]*)@(?P<t>[0-9]+(\.[0-9]+)?)(?P<unit>min)?$")
MAX_FAULT_MIN = 24 * 60.0


def parse_fault(spec: str) -> WiringFault | SliceFault:
    """``"slice-death@45min"`` → SliceFault; ``"gain_knob@20"`` → WiringFault (minutes; ``min``
    optional; ``-`` and ``_`` alike); ValueError naming the allowed names and range."""
    m = _SPEC.match(spec.strip().lower())
    if m is None:
        raise ValueError(f"{spec!r}: expected NAME@MINUTES, e.g. slice-death@45min or gain_knob@20")
    name, t_min = m["name"], float(m["t"])
    if not 0.0 <= t_min <= MAX_FAULT_MIN:
        raise ValueError(f"{spec!r}: time {t_min:g} min outside 0–{MAX_FAULT_MIN:g} min")
    if name.replace("_", "-") in SLICE_FAULTS:
        return SliceFault(name.replace("_", "-"), t_min * 60.0)
    if name.replace("-", "_") in WIRING_FAULTS:
        return WiringFault(name.replace("-", "_"), t_min * 60.0)
    raise ValueError(f"{spec!r}: unknown fault {name!r} (slice faults: {', '.join(SLICE_FAULTS)}; "
                     f"wiring faults: {', '.join(WIRING_FAULTS)})")


def parse_faults(specs: Sequence[str]) -> tuple[WiringFault | SliceFault, ...]:
    """``--sim-fault`` values → faults; a bad one is a one-line UserError (exit 2)."""
    out = []
    for spec in specs:
        try:
            out.append(parse_fault(spec))
        except ValueError as exc:
            raise UserError(f"--sim-fault: {exc}") from None
    return tuple(out)


def wiring_faults(faults: Sequence[object]) -> tuple[WiringFault, ...]:
    return tuple(f for f in faults if isinstance(f, WiringFault))


def with_slice_faults(model: object, faults: Sequence[object], seed: int) -> object:
    """``model`` behind the slice faults among ``faults`` (itself when there are none)."""
    mine = tuple(f for f in faults if isinstance(f, SliceFault))
    return FaultySlice(model, mine, seed) if mine else model


def needs_wiring(rig: RigConfig, faults: Sequence[object]) -> bool:
    """True when the plain slice is not enough: telegraph/monitor inputs, TTL-only isolators, faults."""
    return (bool(wiring_faults(faults)) or any(a.kind != "field" for a in rig.ai)
            or any(s.ttl_only for s in rig.stim))


def n_field_channels(rig: RigConfig) -> int:
    return sum(a.kind == "field" for a in rig.ai)


def wire_slice(rig: RigConfig, inner: object, seed: int, faults: Sequence[object],
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
                      wiring_faults(faults), seed)
