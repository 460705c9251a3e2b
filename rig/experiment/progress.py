"""A terminal progress bar for headless runs (stderr, redrawn at most a few times a second)."""

from __future__ import annotations

import sys
import threading
import time

from rig.core.documents import Progress, RunStart, RunStop

TERMINAL_BUSY = threading.Event()  # set while the operator types at a prompt (keys): no redraw


class ProgressBar:
    """A document subscriber that records the latest progress; ``draw()`` runs on the main thread."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.fs = 1.0
        self.sample = 0
        self.total = 1
        self.sweeps = 0
        self.t0 = time.perf_counter()
        self._last = 0.0
        try:  # the stream actually used (a bar on stderr when stderr is a terminal)
            self.tty = bool(self.stream.isatty())
        except (AttributeError, OSError, ValueError):
            self.tty = False

    def __call__(self, doc: object) -> None:
        if isinstance(doc, RunStart):
            self.fs = doc.sample_rate_hz
            self.total = max(1, doc.planned_samples)
        elif isinstance(doc, Progress):
            self.sample, self.total, self.sweeps = doc.sample, max(1, doc.planned_samples), doc.sweeps
        elif isinstance(doc, RunStop):  # the last Progress may be a read before the end (--speed max)
            self.sample = max(self.sample, doc.sample)

    def draw(self, final: bool = False) -> None:
        """Redraw (a TTY only: logs and pipes get the summary, not a stream of bars)."""
        now = time.perf_counter()
        if not self.tty or self.sample == 0 or (not final and (now - self._last < 0.2 or TERMINAL_BUSY.is_set())):
            return
        self._last = now
        frac = min(1.0, self.sample / self.total)
        fill = round(frac * self.width)
        exp_min = self.sample / self.fs / 60
        rate = self.sample / self.fs / max(now - self.t0, 1e-9)
        line = (f"[{'#' * fill}{'.' * (self.width - fill)}] {frac * 100:5.1f}%  "
                f"{exp_min:6.1f}/{self.total / self.fs / 60:.1f} min  {self.sweeps} sweeps  {rate:6.0f}× real time")
        self.stream.write("\r" + line + ("\n" if final else ""))
        self.stream.flush()
