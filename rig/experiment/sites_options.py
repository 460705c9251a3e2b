"""Per-site options of a multi-site ``rig run``: ``--sim-fault`` and ``--panel``.

* ``--sim-fault SITE:NAME@MIN`` rehearses a fault on site SITE only (its own slice, at minute MIN
  of its own clock: a site's minute 0 is its start offset); ``--sim-fault NAME@MIN`` without a
  site hits every site. The other sites' slices are untouched.
* ``--panel PATHWAY=µA:µs`` gives a TTL-only isolator's front-panel setting; PATHWAY is the
  rig file's ``[[stim]] pathway`` (unique in the rig file, e.g. ``A1``); inside the site's file it
  is recorded under the site's protocol name (``S1``).

Both are validated before anything is armed (one-line UserError, exit 2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rig.core.errors import UserError
from rig.experiment.front_panel import front_panel
from rig.experiment.wired_sim import parse_fault
from rig.protocol.rigfile import RigConfig


def site_faults(rig: RigConfig, specs: Sequence[str]) -> dict[str, tuple]:
    """``[SITE:]NAME@MIN`` values → the faults of every site (empty tuples for the others)."""
    names = [s.name for s in rig.site]
    out: dict[str, list] = {n: [] for n in names}
    if specs and rig.backend != "sim":
        raise UserError("--sim-fault: faults are simulated; add --sim (or use a rig file with backend = \"sim\")")
    for spec in specs:
        site, sep, rest = spec.partition(":")
        if not sep:
            site, rest = "", spec
        if site and site not in out:
            raise UserError(f"--sim-fault: {spec!r}: {site!r} is not a [[site]] of the rig file "
                            f"(have: {', '.join(names)}); write SITE:NAME@MIN, e.g. {names[0]}:noise@20")
        try:
            fault = parse_fault(rest)
        except ValueError as exc:
            raise UserError(f"--sim-fault: {exc}") from None
        for n in [site] if site else names:
            out[n].append(fault)
    return {n: tuple(v) for n, v in out.items()}


def site_panels(rig: RigConfig, specs: Sequence[str],
                ask: Callable[[str], str] | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """``PATHWAY=µA:µs`` (rig-file pathway names) → per site, {its protocol pathway name: (µA, µs)}
    for every TTL-only isolator (a missing one is asked for at a terminal, as for one slice)."""
    panel = front_panel(rig, specs, ask)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for s in rig.site:
        rename = dict(zip(s.stim, s.protocol_pathways(), strict=True))
        out[s.name] = {rename[pw]: v for pw, v in panel.items() if pw in rename}
    return out
