"""Events of the rig as wired: the amplifier's gain telegraph and the isolator's current monitor.

Part of the one vocabulary (:mod:`rig.core.events` registers and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rig.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class GainChanged(Event):
    """The gain telegraph changed: ``previous`` → ``gain`` (V/V) on field AI ``channel``, in a ``phase_kind``."""

    KIND: ClassVar[str] = "gain_changed"
    channel: int = 0
    gain: float = 0.0
    previous: float = 0.0
    phase_kind: str = ""


@dataclass(frozen=True, kw_only=True)
class TelegraphUnreadable(Event):
    """No telegraph table entry matches ``telegraph_V`` (± tolerance): scaled with ``gain_used``."""

    KIND: ClassVar[str] = "telegraph_unreadable"
    channel: int = 0
    telegraph_V: float = 0.0
    gain_used: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StimulusMismatch(Event):
    """The isolator's current monitor disagrees with the command beyond the rig file's tolerance."""

    KIND: ClassVar[str] = "stimulus_mismatch"
    pathway: int = 0
    commanded_uA: float = 0.0
    delivered_uA: float = 0.0
    error_percent: float = 0.0
    tolerance_percent: float = 0.0
