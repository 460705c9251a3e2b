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
