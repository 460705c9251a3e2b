"""The simulated DAQ: sample-clocked, driven by the output blocks it is actually given.

AI samples for [k, k + n) are computed by the attached slice from the AO/DO samples written for
that same range; a range with no output written is an output underflow: it is stimulated with
0 V and counted. Pacing: ``speed`` 1.0 follows the wall clock, N runs N× faster, ``None`` runs as
fast as possible. The ADC quantizes to 16 bits over ±``adc_range_V``. When paced, the device
has a host buffer of ``buffer_s`` seconds like a real board: a reader that falls further behind
than that loses the oldest samples (overflow, NI −200279), reported as ``Block.gap``. The slice
lives on through the lost samples (it is run over them, in pieces of at most one host buffer, so
memory stays bounded however far behind the reader is), and one read catches up at most
:data:`MAX_CATCH_UP_BUFFERS` host buffers: a reader that is further behind than that finds the rest
lost at its next read (a gap again), so a starved program sees every read gapped — each read
costs bounded memory and time — instead of one read that computes hours of lost samples.

As fast as possible (``speed`` None) :meth:`read_blocks` hands out many consecutive blocks in one
:class:`~drivers.base.Block`, computed by one call of the slice (which restarts its per-block
state at every block boundary, so the samples are those of one read per block). Every block
carries its int16 ADC codes (``Block.counts``); its volts are made from them when asked for
(:class:`drivers.sim.adc.CodedBlock`: the engine keeps the codes and never asks).
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from drivers.base import Block, Device, DeviceError
from drivers.sim.adc import CodedBlock, quantize_codes
from drivers.sim.model import SliceModel
from drivers.sim.slice import RealisticSlice

MAX_READ_BLOCKS = 1 << 20  # as fast as possible: the engine chooses how many blocks one read takes
MAX_CATCH_UP_BUFFERS = 6  # paced: lost samples one read runs the slice over (host buffers), at most


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
        self._zero_current = np.zeros((1, 1))
        self._buffers: dict[str, np.ndarray] = {}  # scratch arrays kept across reads (see _scratch)
        self._respond_into = isinstance(slice_model, RealisticSlice)  # respond(..., out=) fills a given buffer
        if hasattr(slice_model, "resync_samples"):  # per-block state restarts on the block grid
            slice_model.resync_samples = self.block_samples

    @property
    def max_read_blocks(self) -> int:
        """Blocks one :meth:`read_blocks` may return: many when unpaced and the slice produces the
        same samples in one call as block by block; 1 when paced or for a subclass that changes
        :meth:`read` (e.g. one that drops blocks)."""
        if self.speed is not None or type(self).read is not SimDevice.read:
            return 1
        return MAX_READ_BLOCKS if getattr(self.slice, "resync_samples", 0) == self.block_samples else 1

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
        distinct = ao_V[:, :1] if ao_V.ndim == 2 and ao_V.strides[1] == 0 else ao_V  # a constant (broadcast) block
        if distinct.size and not -10.0 <= distinct.min() <= distinct.max() <= 10.0:
            raise DeviceError("AO sample beyond ±10 V")
        self._pending.append((start, ao_V, np.asarray(do, dtype=np.uint8)))
        self._written_until = start + ao_V.shape[1]

    def _take_outputs(self, start: int, n: int) -> tuple[np.ndarray | None, np.ndarray]:
        """AO (None: 0 V all through) and DO written for [start, start + n); DO that stays at one
        level (blocks written at rest) comes back as a broadcast view. Both may be views of the
        device's scratch buffers, valid until the next read."""
        ao = None
        end = start + n
        segments = []  # (lo, hi, s, do block, its level if constant over [lo, hi) else None)
        while self._pending:
            s, a, d = self._pending[0]
            e = s + a.shape[1]
            if e <= start:
                self._pending.popleft()
                continue
            if s >= end:
                break
            lo, hi = max(s, start), min(e, end)
            part = a[:, :1] if a.strides[1] == 0 else a[:, lo - s : hi - s]
            if part.any():  # a block at 0 V (broadcast or not) needs no copy
                if ao is None:
                    ao = self._scratch("ao", (len(self.ao_channels), n), np.float64)
                    ao.fill(0.0)
                ao[:, lo - start : hi - start] = a[:, lo - s : hi - s]
            if d.strides[1] == 0 or not d.shape[0]:
                level = d[:, :1]
            else:
                dd = d[:, lo - s : hi - s]
                level = dd[:, :1] if (dd == dd[:, :1]).all() else None
            segments.append((lo, hi, s, d, level))
            if e <= end:
                self._pending.popleft()
            else:
                break
        covered = min(max(self._written_until - start, 0), n)
        if covered < n:
            self.underflow_samples += n - covered
        levels = [seg[4] for seg in segments]
        if segments and covered == n and all(v is not None and np.array_equal(v, levels[0]) for v in levels):
            return ao, np.broadcast_to(levels[0], (len(self.do_lines), n))
        do = self._scratch("do", (len(self.do_lines), n), np.uint8)
        do.fill(0)
        for lo, hi, s, d, _ in segments:
            do[:, lo - start : hi - start] = d[:, lo - s : hi - s]
        return ao, do

    def _scratch(self, name: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
        """A C-contiguous (rows, n) array on a buffer kept across reads (no fresh pages per read)."""
        m = shape[0] * shape[1]
        buf = self._buffers.get(name)
        if buf is None or buf.size < m:
            buf = self._buffers[name] = np.empty(max(m, 2 * (buf.size if buf is not None else 0)), dtype=dtype)
        return buf[:m].reshape(shape)

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
        warm = getattr(self.slice, "warm_up", None)
        if warm is not None:  # compiled kernels loaded before the clock starts (a paced board never waits)
            warm()
        quantize_codes(np.zeros((1, 1)), 1.0, self.lsb_V, np.empty((1, 1), dtype=np.int16))
        self.running = True
        self._t0 = time.perf_counter()
        ahead = getattr(self.slice, "compute_ahead", None)
        if self.speed is None and ahead is not None:  # unpaced: the slice's background on a second thread
            ahead(True)

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
                gap = min(gap, max(n, MAX_CATCH_UP_BUFFERS * self.buffer_samples // n * n))
                self._lose(start, gap)  # the slice lives on; those samples are gone
                self.overflows += 1
                start += gap
        return CodedBlock(start, None, gap, self._acquire(start, n), self.lsb_V)

    def read_blocks(self, n_blocks: int) -> Block:
        """``n_blocks`` consecutive blocks in one (1 ≤ n_blocks ≤ :attr:`max_read_blocks`). With
        ``n_blocks`` > 1 the Block's arrays are the device's buffers, overwritten by the next
        ``read_blocks``: copy what you keep (the engine copies them into its ring at once)."""
        if n_blocks == 1:
            return self.read()
        if not 1 <= n_blocks <= self.max_read_blocks:
            raise DeviceError(f"read_blocks({n_blocks}): this device reads at most {self.max_read_blocks}")
        if not self.running:
            raise DeviceError("read on a stopped device")
        start = self._pos
        return CodedBlock(start, None, 0, self._acquire(start, n_blocks * self.block_samples, scratch=True), self.lsb_V)

    def _lose(self, start: int, n: int) -> None:
        """Run the slice over [start, start + n) and drop the samples, one host buffer (whole
        blocks) at a time: the memory of a read never grows with how far behind it is."""
        piece = max(self.block_samples, self.buffer_samples // self.block_samples * self.block_samples)
        end = start + n
        while start < end:
            k = min(piece, end - start)
            self._acquire(start, k, scratch=True)
            start += k

    def _acquire(self, start: int, n: int, scratch: bool = False) -> np.ndarray:
        """Run the slice over [start, start + n) with the outputs written for it; the ADC codes
        (``scratch``: on the device's buffer, valid until the next read; the Block makes the volts
        from them when asked)."""
        ao, do = self._take_outputs(start, n)
        self.last_do = do[:, -1].copy() if do.shape[0] else self.last_do
        if ao is None:  # no current: a read-only broadcast 0 (the slice never writes its input)
            self.last_ao_V = np.zeros(len(self.ao_channels))
            stim_uA = np.broadcast_to(self._zero_current, (len(self.ao_channels), n))
        else:
            self.last_ao_V = ao[:, -1].copy()
            stim_uA = np.multiply(ao, self.ao_uA_per_V[:, None], out=self._scratch("stim", ao.shape, np.float64))
        scale = 1.0  # volts × scale: the amplifier's gain, applied in the ADC pass when the slice leaves it out
        if self._respond_into:  # the slice writes into a buffer kept across reads
            buf = self._scratch("volts", (self.slice.n_ai, n), np.float64)
            if self.loopback:
                volts = self.slice.respond(start, stim_uA, do, out=buf)
            else:  # electrode mV: the gain is applied in the ADC pass (one pass over the samples fewer)
                volts, scale = self.slice.respond(start, stim_uA, do, out=buf, scaled=False), self.slice.output_scale
        else:
            volts = self.slice.respond(start, stim_uA, do)
        for ao_i, ai_i in self.loopback.items():
            if ao is not None:
                volts[ai_i] = volts[ai_i] + ao[ao_i]
        codes = self._scratch("codes", volts.shape, np.int16) if scratch else np.empty(volts.shape, dtype=np.int16)
        quantize_codes(np.ascontiguousarray(volts, dtype=np.float64), scale, self.lsb_V, codes)
        self._pos = start + n
        return codes

    def stop(self) -> None:
        self.zero_outputs()
        self.running = False
        ahead = getattr(self.slice, "compute_ahead", None)
        if ahead is not None:
            ahead(False)
