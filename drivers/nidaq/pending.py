"""Host-side copy of the outputs written ahead of the hardware.

After an AI restart the output tasks are rebuilt and must be primed again from the new first
sample; this keeps the samples written but not yet generated so that nothing the engine
rendered for the future is lost. Pure numpy, no ``nidaqmx``.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class PendingOutputs:
    """Contiguous output blocks (AO volts float64 (n_ao, n), DO 0/1 uint8 (n_do, n)) covering
    [first, end) in absolute samples."""

    def __init__(self, n_ao: int, n_do: int) -> None:
        self.n_ao = n_ao
        self.n_do = n_do
        self._blocks: deque[tuple[int, np.ndarray, np.ndarray]] = deque()
        self.end = 0

    def append(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        if start != self.end:
            raise ValueError(f"output write at sample {start}, expected {self.end}")
        n = ao_V.shape[1]
        if n:
            self._blocks.append((start, ao_V, do))
            self.end = start + n

    def drop_before(self, sample: int) -> None:
        """Forget blocks that end at or before ``sample`` (already generated)."""
        while self._blocks and self._blocks[0][0] + self._blocks[0][1].shape[1] <= sample:
            self._blocks.popleft()

    def skip_to(self, sample: int) -> None:
        """Advance ``end`` to ``sample`` (zero-filled) if it lies behind it."""
        if sample > self.end:
            n = sample - self.end
            self.append(self.end, np.zeros((self.n_ao, n)), np.zeros((self.n_do, n), np.uint8))

    def slice(self, begin: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Outputs for [begin, end); samples not held (generated or never written) are 0."""
        n = max(0, end - begin)
        ao = np.zeros((self.n_ao, n))
        do = np.zeros((self.n_do, n), np.uint8)
        for s, a, d in self._blocks:
            lo, hi = max(begin, s), min(end, s + a.shape[1])
            if lo < hi:
                ao[:, lo - begin : hi - begin] = a[:, lo - s : hi - s]
                do[:, lo - begin : hi - begin] = d[:, lo - s : hi - s]
        return ao, do
