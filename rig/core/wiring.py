"""What the engine must check on the wired rig, as plain data (built from the rig file).

* :class:`Telegraph`: an AI channel carrying the amplifier's gain telegraph (a voltage per gain
  setting, from the amplifier's manual) and the field channel whose scaling follows it.
* :class:`Monitor`: an AI channel carrying an isolator's current monitor (µA per V at its output)
  and the pathway it belongs to.
* ``panel``: per pathway, the (µA, µs) set on the front panel of a TTL-only isolator (typed in by
  the operator at start; None for a pathway with an analog command).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Telegraph:
    channel: int  # AI index (device order) of the telegraph signal
    field_channel: int  # AI index of the field potential it scales
    table: tuple[tuple[float, float], ...]  # (telegraph V, gain V/V) pairs
    tolerance_V: float = 0.2


@dataclass(frozen=True)
class Monitor:
    channel: int  # AI index of the isolator's monitor output
    pathway: int
    uA_per_V: float  # µA of delivered current per V at the monitor output
    tolerance_percent: float = 10.0


@dataclass(frozen=True)
class WiringChecks:
    telegraph: Telegraph | None = None
    monitors: tuple[Monitor, ...] = ()
    panel: tuple[tuple[float, float] | None, ...] = field(default_factory=tuple)

    def monitor_of(self, pathway: int) -> Monitor | None:
        return next((m for m in self.monitors if m.pathway == pathway), None)

    def panel_of(self, pathway: int) -> tuple[float, float] | None:
        return self.panel[pathway] if pathway < len(self.panel) else None
