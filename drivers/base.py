"""The device interface every backend provides (NI-DAQ, simulator).

All channels of a device share one sample clock. Sample indices are absolute: sample 0 is the
first sample acquired after :meth:`Device.start`. Outputs are written ahead of acquisition for a
future sample range; a stimulus written at sample *k* is delivered at sample *k*.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class DeviceError(RuntimeError):
    """A fatal device failure: the run must stop safely."""


class SampleRateError(DeviceError):
    """The device does not run at the sample rate asked for (e.g. the board coerced it): the
    run is refused before any output is armed. ``requested_hz`` / ``actual_hz`` say by how much."""

    def __init__(self, message: str, requested_hz: float, actual_hz: float) -> None:
        super().__init__(message)
        self.requested_hz = requested_hz
        self.actual_hz = actual_hz


RATE_TOLERANCE = 1e-9  # relative: the device must run at the plan's sample rate


def check_sample_rate(plan_hz: float, device_hz: float) -> None:
    """Refuse a device that does not run at the plan's (the rig file's) sample rate."""
    if not abs(device_hz - plan_hz) <= RATE_TOLERANCE * plan_hz:
        raise SampleRateError(f"sample rate: the device runs at {device_hz:.6g} Hz, the plan (rig file "
                              f"sample_rate_hz) needs {plan_hz:.6g} Hz", plan_hz, device_hz)


class OutputUnderflowError(DeviceError):
    """The stimulus outputs ran dry (written too late). Outputs are at 0 V / low and stay
    disabled for the rest of the run; acquisition continues. The engine records an event and
    stops stimulating; the recording goes on."""


@dataclass(frozen=True)
class Block:
    """One block of acquired samples.

    ``start`` is the absolute index of the first sample; ``data`` is float64 volts at the ADC,
    shape (n_ai, n). ``gap`` > 0 says that many samples were lost *before* this block (overrun
    and restart); the block's ``start`` already accounts for them. A device that has the ADC's
    int16 codes gives them too: ``counts`` (n_ai, n) with ``data == counts * lsb_V``.
    """

    start: int
    data: np.ndarray
    gap: int = 0
    counts: np.ndarray | None = None
    lsb_V: float = 0.0


class Device(ABC):
    """A sample-clocked acquisition + stimulation device."""

    sample_rate_hz: float
    ai_channels: list[str]
    ao_channels: list[str]
    do_lines: list[str]
    block_samples: int

    @abstractmethod
    def start(self) -> None:
        """Arm outputs and start the sample clock (AI, AO and DO together)."""

    @abstractmethod
    def read(self) -> Block:
        """Block until the next ``block_samples`` AI samples are available and return them."""

    #: consecutive blocks one :meth:`read_blocks` call may return (1: a clock-paced device)
    max_read_blocks: int = 1

    def read_blocks(self, n_blocks: int) -> Block:
        """``n_blocks`` consecutive blocks as one Block (1 ≤ n_blocks ≤ :attr:`max_read_blocks`).

        Only a device that is not paced by a clock (the simulator as fast as possible) offers
        more than one; the engine then reads ahead through stretches in which nothing happens."""
        if n_blocks != 1:
            raise DeviceError(f"read_blocks({n_blocks}): this device reads one block at a time")
        return self.read()

    @abstractmethod
    def write(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        """Queue outputs for samples [start, start + n).

        ``ao_V`` float64 volts, shape (n_ao, n); ``do`` uint8 0/1, shape (n_do, n). Writes must be
        contiguous: ``start`` equals the end of the previous write.
        """

    @property
    @abstractmethod
    def written_until(self) -> int:
        """The first sample index not yet covered by :meth:`write`."""

    @abstractmethod
    def zero_outputs(self) -> None:
        """Drive every AO to 0 V and every DO line low, now. Safe to call at any time, repeatedly."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the clock. Outputs are zeroed first."""

    def close(self) -> None:
        """Release the device (outputs zeroed)."""
        self.stop()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
