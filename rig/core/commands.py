"""Operator commands: what the window (or another front end) asks the controller to do.

Front ends never touch the engine. They put :class:`Command` objects on a plain, unbounded
``queue.Queue`` (see :func:`make_command_queue` / :func:`post`); the controller drains it between
blocks, acts on each command it accepts, and records *every* command it receives as an event in
the file (accepted or refused), so the recording shows what the operator did and when.

Vocabulary (``cmd``), with the fields each one uses:

==================  =========================================================================
``pause``           stop stimulating; acquisition and storage go on
``resume``          resume stimulating where the plan is
``stop``            end the run (the window asks for confirmation first)
``mark``            free-text note; ``text``
``induce_now``      end a gated baseline now and go to the next phase
``extend_baseline`` extend the current (gated) baseline phase
``intensity``       change a pathway's test intensity; ``pathway``, ``delta_uA`` (µA, signed)
``set_windows``     move one detector window; ``data = {"window": name, "old_ms": [a, b],
                    "new_ms": [c, d]}`` — ms relative to the stimulus onset; ``pathway``: that
                    pathway's window only (None: every pathway's)
``reanalyse``       the window re-measured the sweeps it holds with the windows drawn; ``text`` =
                    its report, ``data = {"windows_ms": {…}, "sweeps": n}`` (recorded in the file)
==================  =========================================================================

``source`` names the front end ("gui", "ctl", "signal", …); ``wall_time`` is ``time.time()`` at
creation (the controller stamps the sample time when it records the event).
"""

from __future__ import annotations

import queue
import time
from dataclasses import asdict, dataclass, field
from typing import Any

COMMANDS: frozenset[str] = frozenset(
    {
        "pause",
        "resume",
        "stop",
        "mark",
        "induce_now",
        "extend_baseline",
        "intensity",
        "set_windows",
        "reanalyse",
    }
)


@dataclass(frozen=True)
class Command:
    """One operator action. ``delta_uA`` in µA; ``data`` holds command-specific values."""

    cmd: str
    pathway: int | None = None
    delta_uA: float | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    source: str = "gui"
    wall_time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.cmd not in COMMANDS:
            raise ValueError(f"unknown operator command {self.cmd!r}; known: {sorted(COMMANDS)}")
        if self.cmd == "intensity" and (self.pathway is None or self.delta_uA is None):
            raise ValueError("intensity command needs pathway and delta_uA")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-able when ``data`` is), e.g. for the event log."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Command:
        """Build from a dict such as ``{"cmd": "mark", "text": "drug on", "source": "ctl"}``."""
        known = {"cmd", "pathway", "delta_uA", "text", "data", "source", "wall_time"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown command field(s): {sorted(unknown)}")
        return cls(**d)


CommandQueue = queue.Queue  # of Command; unbounded: a front end never blocks or loses a command


def make_command_queue() -> queue.Queue[Command]:
    """A fresh, unbounded command queue."""
    return queue.Queue()


def post(q: queue.Queue[Command], command: Command | dict[str, Any]) -> Command:
    """Put one command on the queue without blocking; dicts are validated into a Command."""
    c = command if isinstance(command, Command) else Command.from_dict(command)
    q.put_nowait(c)
    return c


def drain(q: queue.Queue[Command]) -> list[Command]:
    """Every command queued so far, oldest first, without blocking (for the controller)."""
    out: list[Command] = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
