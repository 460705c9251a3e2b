"""The display's subscriber: engine documents → bounded queues, never blocking the engine.

The engine calls subscribers on the acquisition thread, so :meth:`DisplayFeed.__call__` only does
``put_nowait`` and returns. Two bounded queues:

* ``frames`` — full :class:`~rig.core.documents.Sweep` documents (sample arrays, possibly MBs) and
  :class:`~rig.core.documents.Progress`. When it is full the new one is **dropped** and counted
  (``dropped_frames``, of which ``dropped_sweeps``): the display skips a picture, the
  recording loses nothing.
* ``state`` — small documents the picture is built from (RunStart, PhaseStart, Measured, Event,
  RunStop) plus a :class:`SweepInfo` header for *every* sweep, so the time course, the I/O curve
  and the counters stay complete even when frames are dropped. Sized for hours of backlog; if it
  ever fills, documents are dropped and counted in ``dropped_state``.

The GUI thread drains both from a QTimer (:meth:`drain`): no cross-thread Qt signal is involved.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from rig.core.documents import Progress, Sweep


@dataclass(frozen=True)
class SweepInfo:
    """Header of one sweep (no samples): always delivered, even when the frame is dropped."""

    index: int
    pathway: int
    phase: int
    kind: str
    start_sample: int
    stim_sample: int
    n_samples: int
    intensity_uA: float
    wall_time: float

    @classmethod
    def of(cls, s: Sweep) -> SweepInfo:
        return cls(
            s.index,
            s.pathway,
            s.phase,
            s.kind,
            s.start_sample,
            s.stim_sample,
            int(s.counts.shape[-1]),
            float(s.intensity_uA),
            s.wall_time,
        )


class DisplayFeed:
    """Subscriber callable ``feed(doc)``: non-blocking, lossy only for display frames.

    ``max_frames``: sweeps/progress documents held for the GUI (drop beyond);
    ``max_state``: small documents held (≈ 100 B each; the default covers days of sweeps).
    """

    def __init__(self, max_frames: int = 16, max_state: int = 200_000) -> None:
        self.frames: queue.Queue = queue.Queue(maxsize=max_frames)
        self.state: queue.Queue = queue.Queue(maxsize=max_state)
        self.received = 0
        self.dropped_frames = 0  # sweeps + progress documents not shown
        self.dropped_sweeps = 0  # of which sweeps (the sweep panel skipped them)
        self.dropped_state = 0
        self._lock = threading.Lock()  # counters only; held for a few instructions

    def __call__(self, doc: object) -> None:
        """Called by the engine on the acquisition thread. Never blocks, never raises Full."""
        self.received += 1
        if isinstance(doc, Sweep):
            self._put(self.state, SweepInfo.of(doc), frame=False)
            if not self._put(self.frames, doc, frame=True):
                self.dropped_sweeps += 1
        elif isinstance(doc, Progress):
            self._put(self.frames, doc, frame=True)
        else:
            self._put(self.state, doc, frame=False)

    def _put(self, q: queue.Queue, doc: object, *, frame: bool) -> bool:
        try:
            q.put_nowait(doc)
            return True
        except queue.Full:
            with self._lock:
                if frame:
                    self.dropped_frames += 1
                else:
                    self.dropped_state += 1
            return False

    def drain(self, max_items: int = 100_000) -> list[object]:
        """Everything queued so far (state documents first, then frames), without blocking.

        State first: a RunStart or PhaseStart must be applied before the sweeps that follow it.
        """
        out: list[object] = []
        for q in (self.state, self.frames):
            while len(out) < max_items:
                try:
                    out.append(q.get_nowait())
                except queue.Empty:
                    break
        return out
