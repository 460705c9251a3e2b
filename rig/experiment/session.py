"""Operator control for one run: the control endpoint and (headless, on a terminal) the keys.

The runner wraps the engine run with it::

    ctl = make_controller(plan, rig, commands)           # commands: the window's queue, or None
    with OperatorControl(ctl, out_path, keys=headless):  # rig ctl … / p r s m i e on stdin
        result = engine.run(stop)
"""

from __future__ import annotations

import queue
import sys
from pathlib import Path
from typing import Any

from rig.closed_loop.controller import Controller
from rig.core.events import ControlUnavailable
from rig.experiment.control_server import ControlServer
from rig.experiment.keys import KeyReader
from rig.experiment.terminal_echo import TerminalEcho


def make_controller(plan: Any, rig: Any, commands: queue.Queue | None = None) -> Controller:
    """The controller for ``plan`` on ``rig`` (its stimulus limits; isolator resolution from the
    rig file's ``stim[].resolution_uA`` when it has one, else 1 µA; TTL-only pathways refuse
    ``intensity`` commands)."""
    res = [getattr(s, "resolution_uA", None) for s in getattr(rig, "stim", [])]
    res = [r for r in res if r]
    ttl_only = tuple(bool(getattr(s, "ttl_only", False)) for s in getattr(rig, "stim", []))
    ctl = Controller(plan, limits=rig.stim_limits(), resolution_uA=max(res) if res else None, commands=commands,
                     ttl_only=ttl_only)
    ctl.ao_max_uA = tuple(s.ao_range_V * s.uA_per_V if getattr(s, "ao", None) else None
                          for s in getattr(rig, "stim", []))
    return ctl


class OperatorControl:
    """Starts the control endpoint next to ``recording`` (unless ``endpoint`` is False) and, if
    ``keys`` and stdin is a terminal, the key reader; stops both (endpoint file removed, terminal
    restored) on exit."""

    def __init__(self, controller: Controller, recording: Path, *, keys: bool = False, endpoint: bool = True,
                 unix_socket: bool = False, announce: bool = True, echo: TerminalEcho | None = None) -> None:
        self.ctl = controller
        self.server = ControlServer(controller, Path(recording), unix_socket=unix_socket) if endpoint else None
        self.keys = (KeyReader(controller.commands, refusal=controller.refusal,
                               intensity_of=echo.intensity_of if echo else None) if keys else None)
        self.announce = announce

    def __enter__(self) -> OperatorControl:
        if self.server is not None:
            try:
                self.server.start()
            except OSError as exc:  # the run goes on without its endpoint, and says so
                print(f"rig: control endpoint unavailable ({exc}); rig ctl cannot reach this run",
                      file=sys.stderr, flush=True)
                self.ctl.external_events.put(ControlUnavailable(sample=0, text=f"control endpoint unavailable: {exc}"))
                self.server.close()
                self.server = None
        if self.server is not None and self.announce:
            print(f"rig: control endpoint {self.server.path} (rig ctl status)", file=sys.stderr, flush=True)
        if self.keys is not None and not self.keys.start():
            self.keys = None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.keys is not None:
                self.keys.close()
        finally:
            if self.server is not None:
                self.server.close()
