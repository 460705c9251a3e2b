"""Scaling of the AI channels: ADC volts ↔ int16 counts ↔ mV at the electrode."""

from __future__ import annotations

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

    @property
    def mV_per_count(self) -> np.ndarray:
        return self.lsb_V * 1000.0 / np.asarray(self.gain)


def to_counts(data_V: np.ndarray | None, lsb_V: np.ndarray, codes: np.ndarray | None = None,
              codes_lsb_V: float = 0.0) -> np.ndarray:
    """int16 counts of ADC volts ``data_V`` (n_ch, n) at ``lsb_V`` per channel; a device's own
    ``codes`` are used as they are when its LSB is every channel's (they are the same numbers).
    ``data_V`` None: the volts are ``codes × codes_lsb_V`` (made only when the LSBs differ)."""
    if codes is not None and np.all(lsb_V == codes_lsb_V):
        return codes
    if data_V is None:
        data_V = codes * codes_lsb_V
    return np.clip(np.rint(data_V / lsb_V[:, None]), -32768, 32767).astype(np.int16)
