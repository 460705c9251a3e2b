"""The state of each site of a multi-site run, in words (no Qt): what the grid window and the
terminal line show for it — waiting, running, paused, held, stopped by alarm, completed, …

:func:`site_state` reads it from a :class:`~rig.display.model.DisplayModel` (the grid window);
:class:`SiteStatus` is a light observer of one site's documents for headless runs (the terminal
line), with the same words.
"""

from __future__ import annotations

from rig.core import events as ev
from rig.core.documents import Progress, RunStart, RunStop, Sweep

#: state → (short word for the terminal, colour key of rig.display.theme.BANNER_COLOURS or "")
STATES = {
    "waiting": ("waiting", ""),
    "running": ("running", ""),
    "paused": ("PAUSED", "paused"),
    "held": ("HELD", "held"),
    "alarm": ("STOPPED BY ALARM", "alarm"),
    "completed": ("completed", "ended"),
    "stopped": ("stopped", "ended"),
    "aborted": ("ABORTED", "alarm"),
    "incomplete": ("INCOMPLETE", "alarm"),
    "error": ("ERROR", "alarm"),
}


def stopped_state(reason: str, message: str = "") -> str:
    """The state word of a run that ended with ``reason`` (RunStop)."""
    if reason == "aborted":
        return "alarm" if message.startswith("alarm ") else "aborted"
    if reason == "interrupted":
        return "stopped"
    return reason if reason in STATES else "error"


def site_state(model) -> str:
    """State of one site from its :class:`~rig.display.model.DisplayModel`."""
    if model.stop is not None:
        return stopped_state(model.stop.reason, model.stop.message)
    if model.run is None or model.now_sample <= 0:
        return "waiting"
    if model.paused:
        held = next((e for e in reversed(model.events) if e.kind in ("induction_held", "resumed")), None)
        return "held" if held is not None and held.kind == "induction_held" else "paused"
    return "running"


class SiteStatus:
    """Observer of one site's documents (on its engine thread: a few assignments per document)."""

    def __init__(self) -> None:
        self.started = False
        self.sample = 0
        self.total = 0
        self.sweeps = 0
        self.paused = False
        self.held = False
        self.stop: tuple[str, str] | None = None

    def __call__(self, doc: object) -> None:
        if isinstance(doc, Progress):
            self.sample, self.total, self.sweeps = doc.sample, doc.planned_samples, doc.sweeps
        elif isinstance(doc, Sweep):
            self.sweeps = max(self.sweeps, doc.index + 1)
        elif isinstance(doc, ev.Paused):
            self.paused = True
        elif isinstance(doc, ev.InductionHeld):
            self.held = True
        elif isinstance(doc, ev.Resumed):
            self.paused = self.held = False
        elif isinstance(doc, RunStart):
            self.started, self.total = True, doc.planned_samples
        elif isinstance(doc, RunStop):
            self.stop = (doc.reason, doc.message)
            self.sample = max(self.sample, doc.sample)

    @property
    def state(self) -> str:
        if self.stop is not None:
            return stopped_state(*self.stop)
        if not self.started or self.sample <= 0:
            return "waiting"
        if self.paused:
            return "held" if self.held else "paused"
        return "running"

    def line(self, name: str) -> str:
        """``A 35% 12 sw`` (running), ``B PAUSED 20% 8 sw``, ``C STOPPED BY ALARM 40% 15 sw``."""
        pct = min(1.0, self.sample / self.total) * 100 if self.total else 0.0
        word = STATES[self.state][0]
        return f"{name} {'' if self.state == 'running' else word + ' '}{pct:3.0f}% {self.sweeps} sw"
