"""The simulated DAQ: sample-clocked, driven by the output blocks it is actually given.

AI samples for [k, k + n) are computed by the attached slice from the AO/DO samples written for
that same range; a range with no output written is an output underflow: it is stimulated with
0 V and counted. Pacing: ``speed`` 1.0 follows the wall clock, N runs N× faster, ``None`` runs as
fast as possible. The ADC quantizes to 16 bits over ±``adc_range_V``. When paced, the device
has a host buffer of ``buffer_s`` seconds like a real board: a reader that falls further behind
than that loses the oldest samples (overflow, NI −200279), reported as ``Block.gap``.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from drivers.base import Block, Device, DeviceError
from drivers.sim.model import SliceModel


class SimDevice(Device):
    """A simulated multifunction DAQ with a virtual slice on its inputs and outputs."""

    def __init__(
        self,
        slice_model: SliceModel,
        *,
        sample_rate_hz: float = 20_000.0,
        ai_channels: list[str] | None = None,
        ao_channels: list[str] | None = None,
        do_lines: list[str] | None = None,
        ao_uA_per_V: list[float] | None = None,
        adc_range_V: float = 10.0,
        block_samples: int = 2000,
        speed: float | None = 1.0,
        loopback: dict[int, int] | None = None,
        buffer_s: float = 10.0,
    ) -> None:
        self.slice = slice_model
        self.sample_rate_hz = float(sample_rate_hz)
        self.ai_channels = ai_channels or [f"sim/ai{i}" for i in range(slice_model.n_ai)]
        self.ao_channels = ao_channels if ao_channels is not None else ["sim/ao0"]  # [] : TTL-only isolators
        self.do_lines = do_lines or []
        self.ao_uA_per_V = np.asarray(ao_uA_per_V if ao_uA_per_V is not None else [100.0] * len(self.ao_channels),
                                      dtype=float)
        self.adc_range_V = adc_range_V
        self.lsb_V = adc_range_V / 32768.0
        self.block_samples = int(block_samples)
        self.speed = speed
        self.loopback = dict(loopback or {})
        self.buffer_samples = int(buffer_s * self.sample_rate_hz)
        self.overflows = 0
        self._pending: deque[tuple[int, np.ndarray, np.ndarray]] = deque()
        self._written_until = 0
        self._pos = 0
        self._t0: float | None = None
        self.running = False
        self.underflow_samples = 0
        self.zeroed_count = 0
        self.last_ao_V = np.zeros(len(self.ao_channels))
        self.last_do = np.zeros(len(self.do_lines), dtype=np.uint8)

    # -- outputs -----------------------------------------------------------------------------
    @property
    def written_until(self) -> int:
        return self._written_until

    def write(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        if start != self._written_until:
            raise DeviceError(f"non-contiguous output write at sample {start}, expected {self._written_until}")
        ao_V = np.asarray(ao_V, dtype=float)
        if ao_V.shape[0] != len(self.ao_channels) or do.shape[0] != len(self.do_lines):
            raise DeviceError("output block has the wrong number of channels")
        if np.any(np.abs(ao_V) > 10.0):
            raise DeviceError("AO sample beyond ±10 V")
        self._pending.append((start, ao_V, np.asarray(do, dtype=np.uint8)))
        self._written_until = start + ao_V.shape[1]

    def _take_outputs(self, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        ao = np.zeros((len(self.ao_channels), n))
        do = np.zeros((len(self.do_lines), n), dtype=np.uint8)
        end = start + n
        while self._pending:
            s, a, d = self._pending[0]
            e = s + a.shape[1]
            if e <= start:
                self._pending.popleft()
                continue
            if s >= end:
                break
            lo, hi = max(s, start), min(e, end)
            ao[:, lo - start : hi - start] = a[:, lo - s : hi - s]
            do[:, lo - start : hi - start] = d[:, lo - s : hi - s]
            if e <= end:
                self._pending.popleft()
            else:
                break
        covered = min(max(self._written_until - start, 0), n)
        if covered < n:
            self.underflow_samples += n - covered
        return ao, do

    def zero_outputs(self) -> None:
        """Discard every queued output sample: from now on AO is 0 V and DO low."""
        self._pending.clear()
        self._written_until = max(self._written_until, self._pos)
        self.last_ao_V[:] = 0.0
        self.last_do[:] = 0
        self.zeroed_count += 1

    def zero_channels(self, ao: list[int], do: list[int]) -> None:
        """0 V / LOW on these AO channels and DO lines from now on, also in what is queued
        (one site of a multi-slice board stops; the others go on)."""
        for _, a, d in self._pending:
            a[ao, :] = 0.0
            d[do, :] = 0
        self.last_ao_V[ao] = 0.0
        self.last_do[do] = 0

    # -- clock -------------------------------------------------------------------------------
    def start(self) -> None:
        self.running = True
        self._t0 = time.perf_counter()

    def read(self) -> Block:
        if not self.running:
            raise DeviceError("read on a stopped device")
        n = self.block_samples
        start = self._pos
        gap = 0
        if self.speed is not None:
            rate = self.sample_rate_hz * self.speed
            due = self._t0 + (start + n) / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            lag = int((time.perf_counter() - self._t0) * rate) - (start + n)
            if lag > self.buffer_samples:  # the board overwrote what we did not read in time
                gap = max(n, (lag - self.buffer_samples // 2) // n * n)
                self._acquire(start, gap)  # the slice lives on; those samples are gone
                self.overflows += 1
                start += gap
        volts = self._acquire(start, n)
        return Block(start, volts, gap)

    def _acquire(self, start: int, n: int) -> np.ndarray:
        """Run the slice over [start, start + n) with the outputs written for it; ADC volts."""
        ao, do = self._take_outputs(start, n)
        self.last_ao_V = ao[:, -1].copy()
        self.last_do = do[:, -1].copy() if do.shape[0] else self.last_do
        stim_uA = ao * self.ao_uA_per_V[:, None]
        volts = self.slice.respond(start, stim_uA, do)
        for ao_i, ai_i in self.loopback.items():
            volts[ai_i] = volts[ai_i] + ao[ao_i]
        volts = np.clip(np.round(volts / self.lsb_V), -32768, 32767) * self.lsb_V
        self._pos = start + n
        return volts

    def stop(self) -> None:
        self.zero_outputs()
        self.running = False
