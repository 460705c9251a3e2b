"""How far the controller's schedule is known to be empty (the engine's read-ahead at --speed max).

:meth:`Lookahead.quiet_until` is the largest ``until`` for which ``schedule(until)`` hands out
nothing — no stimulus, valve change or document, no phase-end decision — and ``poll`` has nothing
to drain. An unpaced engine folds the blocks up to there into one read: every decision is taken
on the same sample as block by block.
"""

from __future__ import annotations

import queue
from typing import Any

NOTHING_AHEAD = 1 << 62  # the plan is over: no schedule call generates anything any more


class Lookahead:
    """Mixin of :class:`~rig.closed_loop.controller.Controller` (uses its run state)."""

    generated_until: int
    finished_at: int | None
    stimulation_paused: bool
    windows_changes: list
    commands: queue.Queue
    external_events: queue.Queue
    phase: Any
    phase_start: int
    phase_end: int
    _entered: bool

    def quiet_until(self) -> int:
        """The largest ``until`` that :meth:`schedule` answers with nothing (``generated_until``
        when something is due now: a phase to enter, a pause, a command waiting)."""
        g = self.generated_until
        if not (self.commands.empty() and self.external_events.empty()) or self.windows_changes:
            return g
        if self.finished_at is not None:
            return NOTHING_AHEAD
        if not self._entered or self.stimulation_paused:
            return g
        p, p0 = self.phase, self.phase_start
        q = self.phase_end - 1  # schedule(phase_end) takes the phase-end decision
        r0 = g - p0
        if p.test is not None:
            t = p.test
            nxt = t.pulse_times(r0, max(r0, t.first_offset) + t.interval_samples + 1)
            if nxt:
                q = min(q, p0 + nxt[0][0])
        for s in (*p.stimuli, *p.valves):
            if s.sample >= r0:
                q = min(q, p0 + s.sample)
        return max(g, q)
