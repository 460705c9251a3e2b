"""The terminal's side of a headless run with keys: an observer that prints every refused operator
command with its reason (the window shows them in its message line) and tracks each pathway's
test intensity and baseline intensity, for the keys' ±20 % confirmation."""

from __future__ import annotations

import sys
import threading
from typing import IO

from rig.core import events as ev
from rig.core.documents import PhaseStart, Sweep


class TerminalEcho:
    """Document observer (engine thread); :meth:`intensity_of` is read from the key thread."""

    def __init__(self, stream: IO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._lock = threading.Lock()
        self._phase_kind: dict[int, str] = {}
        self._now: dict[int, float] = {}
        self._baseline: dict[int, float] = {}

    def __call__(self, doc: object) -> None:
        if isinstance(doc, PhaseStart):
            self._phase_kind[doc.index] = doc.kind
        elif isinstance(doc, Sweep) and doc.kind == "test":
            with self._lock:
                self._now[doc.pathway] = float(doc.intensity_uA)
                if self._phase_kind.get(doc.phase) == "baseline":
                    self._baseline[doc.pathway] = float(doc.intensity_uA)
        elif isinstance(doc, ev.IntensitySet):
            with self._lock:
                self._now[int(doc.pathway)] = float(doc.intensity_uA)
        elif isinstance(doc, ev.Operator) and not doc.accepted:
            self._say(doc.text or f"{doc.cmd} from {doc.source or '?'}: refused")
        elif isinstance(doc, ev.OperatorRefused):
            self._say(f"refused ({doc.source or '?'}): {doc.reason or doc.text}")

    def intensity_of(self, pathway: int) -> tuple[float | None, float | None]:
        """(current test intensity µA, baseline intensity µA) of ``pathway``; None when not known yet."""
        with self._lock:
            return self._now.get(pathway), self._baseline.get(pathway)

    def _say(self, text: str) -> None:
        try:
            print(f"\nrig: {text}", file=self.stream, flush=True)
        except (OSError, ValueError):
            pass
