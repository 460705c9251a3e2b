"""The contract between the simulated DAQ and the slice model attached to it."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class SliceModel(Protocol):
    """A virtual slice: stimulus currents in, field potentials out, sample by sample.

    ``respond`` is called with consecutive, non-overlapping sample ranges starting at 0.
    ``stim_uA`` (n_electrodes, n) float64 is the current each stimulating electrode delivers
    (signed µA; 0 = no stimulus); ``ttl`` (n_lines, n) uint8 is the state of the DO lines
    (perfusion valves). It returns (n_ai, n) float64 volts at the amplifier output (field potential
    × amplifier gain), not yet quantized. No current delivered → no evoked response.
    """

    n_ai: int

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray: ...
