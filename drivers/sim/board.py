"""A simulated multi-slice board: N independent virtual slices on one clock and one device.

Each slice is a :class:`drivers.sim.model.SliceModel` of its own (own seed, own I/O curve, own
plasticity) wired to some of the board's AO channels, DO lines and AI channels, and started at
its site's ``offset``: it is called with its own time base (its sample 0 is the board's sample
``offset``), so slice *k* produces exactly what it would produce as the only slice of a board
started ``offset`` samples later. Before its offset a slice's inputs read 0 V.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drivers.sim.model import SliceModel


@dataclass(frozen=True)
class SliceWiring:
    """Board rows of one slice: its stimulating electrodes (AO), DO lines, AI channels (first
    ``slice.n_ai`` of them) and start offset (board samples)."""

    ao: tuple[int, ...]
    do: tuple[int, ...]
    ai: tuple[int, ...]
    offset: int = 0


class MultiSlice:
    """Several slices behind one simulated DAQ (a :class:`SliceModel` itself)."""

    def __init__(self, slices: Sequence[SliceModel], wiring: Sequence[SliceWiring], n_ai: int) -> None:
        if len(slices) != len(wiring):
            raise ValueError("one wiring per slice")
        for s, w in zip(slices, wiring, strict=True):
            if len(w.ai) != s.n_ai:
                raise ValueError(f"slice with {s.n_ai} AI channels wired to {len(w.ai)}")
        self.slices = list(slices)
        self.wiring = list(wiring)
        self.n_ai = n_ai

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        n = stim_uA.shape[1]
        out = np.zeros((self.n_ai, n))
        for sl, w in zip(self.slices, self.wiring, strict=True):
            a = max(start, w.offset)
            if a >= start + n:
                continue
            i, j = a - start, n
            st = stim_uA[list(w.ao), i:j] if w.ao else np.zeros((0, j - i))
            tt = ttl[list(w.do), i:j] if w.do else np.zeros((0, j - i), dtype=np.uint8)
            out[list(w.ai), i:j] = sl.respond(a - w.offset, st, tt)
        return out
