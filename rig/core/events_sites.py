"""Events of a multi-site run (one site's file records them; re-exported by :mod:`rig.core.events`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rig.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class SiteGuard(Event):
    """Multi-site run: this site's later stimuli were placed ``delay_s`` later than the run state
    alone would put them, to keep ``site_guard_s`` from the other sites' stimuli; ``cause``: what
    moved them (an operator command, the gate, a held induction); ``kept`` False when no start
    within the search kept the guard (the stimuli go as planned; ``site`` and ``gap_s`` name the
    closest other site and the gap)."""

    KIND: ClassVar[str] = "site_guard"
    delay_s: float = 0.0
    cause: str = ""
    kept: bool = True
    site: str = ""
    gap_s: float | None = None
