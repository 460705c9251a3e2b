"""Scaling of the AI channels: ADC volts ↔ int16 counts ↔ mV at the electrode."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class ChannelScaling:
    """ADC volts ↔ int16 counts ↔ electrode mV for each AI channel."""

    adc_range_V: list[float]
    gain: list[float]

    @property
    def lsb_V(self) -> np.ndarray:
        return np.asarray(self.adc_range_V) / 32768.0

    def common_lsb_V(self) -> float:
        """The LSB (V per count) every channel shares; NaN when they differ (or there is no channel)."""
        lsb = self.lsb_V
        return float(lsb[0]) if lsb.size and np.all(lsb == lsb[0]) else math.nan

    @property
    def mV_per_count(self) -> np.ndarray:
        return self.lsb_V * 1000.0 / np.asarray(self.gain)


def to_counts(data_V: np.ndarray, lsb_V: np.ndarray, codes: np.ndarray | None = None,
              codes_lsb_V: float = 0.0) -> np.ndarray:
    """int16 counts of ADC volts ``data_V`` (n_ch, n) at ``lsb_V`` per channel; a device's own
    ``codes`` are used as they are when its LSB is every channel's (they are the same numbers)."""
    if codes is not None and np.all(lsb_V == codes_lsb_V):
        return codes
    return np.clip(np.rint(data_V / lsb_V[:, None]), -32768, 32767).astype(np.int16)
