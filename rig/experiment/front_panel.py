"""Front-panel settings of TTL-only isolators, typed in by the operator at the start of a run.

A TTL-only pathway (``[[stim]]`` without ``ao``) only triggers its isolator: the current and the
width are what the isolator's front panel says. ``rig run --panel S1=200:100`` (µA:µs) gives
them; at a terminal ``rig run`` asks for any that is missing. They are stored in the recording
(attribute ``front_panel`` and each sweep's ``intensity_uA`` / ``width_samples``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from rig.core.errors import UserError
from rig.protocol.rigfile import RigConfig


def _parse(rig: RigConfig, pathway: str, text: str) -> tuple[float, float]:
    lim = rig.limits
    try:
        uA_s, us_s = text.split(":")
        uA, us = float(uA_s), float(us_s)
    except ValueError:
        raise UserError(f"--panel {pathway}: {text!r} must be µA:µs, e.g. 200:100") from None
    if not 0 < uA <= lim.max_intensity_uA:
        raise UserError(f"--panel {pathway}: {uA:g} µA outside (0, {lim.max_intensity_uA:g}] "
                        "(rig file limits.max_intensity_uA)")
    if not 0 < us <= lim.max_width_us:
        raise UserError(f"--panel {pathway}: {us:g} µs outside (0, {lim.max_width_us:g}] "
                        "(rig file limits.max_width_us)")
    if uA * us * 1e-6 > lim.max_charge_uC:
        raise UserError(f"--panel {pathway}: {uA * us * 1e-6:g} µC per phase exceeds limits.max_charge_uC "
                        f"{lim.max_charge_uC:g}")
    return uA, us


def front_panel(rig: RigConfig, specs: Sequence[str], ask: Callable[[str], str] | None = None) -> dict:
    """``PATHWAY=µA:µs`` entries → {pathway: (µA, µs)} for every TTL-only pathway of ``rig``;
    a missing one is asked for at a terminal (``ask``, default ``input`` when stdin is a TTY),
    else a one-line UserError."""
    ttl = [s.pathway for s in rig.stim if s.ttl_only]
    out: dict[str, tuple[float, float]] = {}
    for spec in specs:
        pw, sep, val = spec.partition("=")
        if not sep or pw not in ttl:
            raise UserError(f"--panel: {spec!r} must be PATHWAY=µA:µs for a TTL-only pathway "
                            f"(TTL-only here: {', '.join(ttl) or 'none'})")
        out[pw] = _parse(rig, pw, val)
    if ask is None and sys.stdin.isatty():
        ask = input
    for pw in ttl:
        if pw in out:
            continue
        if ask is None:
            raise UserError(f"--panel: {pw} is TTL-only (no 'ao' in the rig file): give the isolator's front-panel "
                            f"setting, e.g. --panel {pw}=200:100 (µA:µs)")
        out[pw] = _parse(rig, pw, ask(f"{pw} is TTL-only: front-panel current and width, µA:µs (e.g. 200:100)? "))
    return out
