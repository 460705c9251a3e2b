"""What the engine drives: a :class:`Scheduler` (the closed-loop controller implements it).

The engine knows nothing of phases, gates or alarms. It asks the scheduler for the stimuli and
valve changes of the next output block (:meth:`Scheduler.schedule`), hands it every measured
sweep and every gap, polls it once per acquired block, and reads its stop state. Everything the
scheduler decides comes back typed: :class:`ScheduledStimulus` (what to render), ``ValveChange``
(what to switch) and documents (events, phase starts) to emit. A scheduler may also offer
``quiet_until() -> int`` (the largest ``until`` that ``schedule`` answers with nothing): an
unpaced engine then reads ahead up to there (:mod:`rig.core.readahead`).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from rig.core.documents import Measured
from rig.core.plan import Plan, Stimulus, ValveChange


class ScheduledStimulus(NamedTuple):
    """One stimulus to render: absolute onset in ``stimulus``, resolved intensity, phase index."""

    stimulus: Stimulus
    intensity_uA: float
    phase: int


class Schedule(NamedTuple):
    """The scheduler's decision for one advance of the write-ahead horizon."""

    stimuli: list[ScheduledStimulus]
    valves: list[ValveChange]
    documents: list  # Event / PhaseStart documents to emit, in order


@runtime_checkable
class Scheduler(Protocol):
    """The interface between the engine and whatever decides what to stimulate."""

    plan: Plan
    #: (reason, message) once the run must stop now (operator stop, a "stop" alarm), else None
    stop_request: tuple[str, str] | None
    #: sample at which the plan ends (None while it goes on)
    finished_at: int | None
    #: reason the scheduler ended the run itself (e.g. "aborted"), with its message
    end_reason: str | None
    end_message: str

    def schedule(self, until: int) -> Schedule:
        """Stimuli and valve changes with onset before ``until`` not handed out yet."""
        ...

    def on_measured(self, doc: Measured) -> list:
        """A sweep was measured: the documents of the decisions taken on it."""
        ...

    def on_gap(self, sample: int, lost_samples: int) -> list:
        """Samples were lost before ``sample``: the documents of the decisions taken on it."""
        ...

    def on_wiring(self, name: str, pathway: int | None, sample: int, text: str, data: dict) -> list:
        """A wiring check failed (``gain_change``, ``stimulus_mismatch``) or a stimulus was not delivered
        (``stimulus_missed``): the documents of the alarm."""
        ...

    def poll(self, now_sample: int) -> list:
        """Once per acquired block: operator commands and outside events, as documents."""
        ...

    def take_windows_changes(self) -> list[tuple]:
        """Detector window changes ``(name, (start ms, end ms)[, source])`` asked for since the last call
        (name None: a new analysis version with the windows in use); each batch is one analysis version."""
        ...
