"""A fake NI board behind real ``nidaqmx.Task`` objects.

``nidaqmx.utils._select_interpreter`` is patched to return ``create_autospec(BaseInterpreter,
instance=True, spec_set=True)`` (NI's own unit-test technique, private API → nidaqmx is pinned):
every call that would reach the C driver must exist with that signature. Side effects keep a
small model of the board: tasks, channels, timing, triggers, buffers, a sample clock shared by
AI/AO/DO, AO→AI loopback wiring and injectable DAQmx errors.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
from nidaqmx._base_interpreter import BaseInterpreter
from nidaqmx.errors import DaqError, DaqReadError, DaqWriteError

NUM_CHANS_READ = 0x217B
NUM_CHANS_WRITE = 0x217E
TOTAL_ACQUIRED = 0x192A
INPUT_BUF = 0x186C
OUTPUT_BUF = 0x186D
REGEN_MODE = 0x1453
AO_IDLE = 0x2240
SAMP_CLK_RATE = 0x1344


@dataclass
class FakeTask:
    handle: str
    name: str
    ai: list[tuple] = field(default_factory=list)  # (phys, terminal_config, min, max)
    ao: list[tuple] = field(default_factory=list)  # (phys, min, max)
    do: list[tuple] = field(default_factory=list)  # (lines, grouping)
    timing: tuple | None = None  # (rate, source, edge, mode, samps)
    trigger: tuple | None = None  # (source, edge)
    attrs: dict = field(default_factory=dict)
    chan_attrs: dict = field(default_factory=dict)
    controls: list[int] = field(default_factory=list)
    running: bool = False
    cleared: bool = False
    starts: int = 0
    # generation: samples written (timed tasks) since the last start
    out: list[np.ndarray] = field(default_factory=list)
    immediate: list[np.ndarray] = field(default_factory=list)  # on-demand writes
    acquired: int = 0  # AI samples acquired in this run

    @property
    def kind(self) -> str:
        return "ai" if self.ai else "ao" if self.ao else "do" if self.do else "?"

    @property
    def written(self) -> np.ndarray:
        if not self.out:
            n = len(self.ao) if self.ao else 1
            return np.zeros((n, 0)) if self.ao else np.zeros(0, np.uint32)
        return np.concatenate(self.out, axis=-1)

    @property
    def n_written(self) -> int:
        return sum(a.shape[-1] for a in self.out)

    def segment(self, row: int, first: int, n: int) -> np.ndarray:
        """Samples [first, first + n) of output row ``row`` (as far as written)."""
        parts, pos = [], 0
        for a in self.out:
            m = a.shape[-1]
            if pos + m > first and pos < first + n:
                lo, hi = max(first, pos) - pos, min(first + n, pos + m) - pos
                parts.append(a[row, lo:hi])
            pos += m
            if pos >= first + n:
                break
        return np.concatenate(parts) if parts else np.zeros(0)


class FakeBoard:
    """Model of one board; ``interp`` is the autospecced interpreter."""

    def __init__(self, loopback: dict[int, int] | None = None, pace: bool = True) -> None:
        self.interp = mock.create_autospec(BaseInterpreter, instance=True, spec_set=True)
        self.loopback = loopback or {}  # ao index -> ai index (as SimDevice)
        self.loopback_scale = 1.0  # V on the AI per V of AO (an isolator monitor on another range: ≠ 1)
        self.ai_constant: dict[int, float] = {}  # ai index -> a constant V (e.g. a gain telegraph)
        self.pace = pace
        self.tasks: list[FakeTask] = []
        self.by_handle: dict[str, FakeTask] = {}
        self.resets: list[str] = []
        self.read_errors: dict[int, tuple[int, int]] = {}  # read call # -> (code, extra lost)
        self.write_errors: dict[int, int] = {}  # AO write call # -> code
        self.reads = 0
        self.on_read_error = lambda: None
        self.gate_at: int | None = None  # read call that waits for ``gate`` (then goes on)
        self.gate = threading.Event()
        self.coerce_rate = None  # callable(requested Hz) -> the rate the board really makes (None: exact)
        self.at_gate = threading.Event()
        self.ao_writes = 0
        self.cond = threading.Condition()
        self._ids = itertools.count()
        self._wire()

    # ------------------------------------------------------------------ helpers for tests
    def of_kind(self, kind: str) -> list[FakeTask]:
        return [t for t in self.tasks if t.kind == kind]

    def timed(self, kind: str) -> list[FakeTask]:
        return [t for t in self.of_kind(kind) if t.timing is not None]

    def last(self, kind: str) -> FakeTask:
        return self.timed(kind)[-1]

    def live_outputs(self) -> list[FakeTask]:
        return [t for t in self.tasks if t.kind in ("ao", "do") and not t.cleared]

    # ------------------------------------------------------------------ side effects
    def _wire(self) -> None:
        i = self.interp
        i.create_task.side_effect = self._create_task
        i.get_task_attribute_string.side_effect = lambda h, a: self.by_handle[h].name
        i.internal_get_last_created_chan.side_effect = NotImplementedError
        i.create_ai_voltage_chan.side_effect = (
            lambda h, phys, name, tc, lo, hi, units, scale: self._t(h).ai.append((phys, tc, lo, hi))
        )
        i.create_ao_voltage_chan.side_effect = (
            lambda h, phys, name, lo, hi, units, scale: self._t(h).ao.append((phys, lo, hi))
        )
        i.create_do_chan.side_effect = lambda h, lines, name, grouping: self._t(h).do.append(
            (lines, grouping)
        )
        i.cfg_samp_clk_timing.side_effect = self._timing
        i.get_timing_attribute_double.side_effect = self._get_timing_double
        i.cfg_dig_edge_start_trig.side_effect = lambda h, src, edge: setattr(
            self._t(h), "trigger", (src, edge)
        )
        i.set_buffer_attribute_uint32.side_effect = lambda h, a, v: self._t(h).attrs.__setitem__(
            a, v
        )
        i.set_write_attribute_int32.side_effect = lambda h, a, v: self._t(h).attrs.__setitem__(
            a, v
        )
        i.set_chan_attribute_int32.side_effect = (
            lambda h, ch, a, v: self._t(h).chan_attrs.__setitem__((ch, a), v)
        )
        i.task_control.side_effect = lambda h, action: self._t(h).controls.append(action)
        i.get_read_attribute_uint32.side_effect = self._get_read_u32
        i.get_write_attribute_uint32.side_effect = self._get_write_u32
        i.get_read_attribute_uint64.side_effect = self._get_read_u64
        i.start_task.side_effect = self._start
        i.stop_task.side_effect = self._stop
        i.clear_task.side_effect = self._clear
        i.reset_device.side_effect = self.resets.append
        i.read_analog_f64.side_effect = self._read
        i.write_analog_f64.side_effect = self._write_analog
        i.write_digital_u32.side_effect = self._write_digital
        i.write_digital_scalar_u32.side_effect = (
            lambda h, auto, timeout, value: self._t(h).immediate.append(np.array([value]))
        )

    def _t(self, handle: str) -> FakeTask:
        t = self.by_handle[handle]
        if t.cleared:
            raise DaqError("task cleared", -200088)
        return t

    def _create_task(self, name: str) -> tuple[str, bool]:
        h = f"h{next(self._ids)}"
        t = FakeTask(h, name)
        self.tasks.append(t)
        self.by_handle[h] = t
        return h, True

    def _timing(self, h, rate, source, edge, mode, samps) -> None:
        self._t(h).timing = (rate, source, edge, mode, samps)

    def _get_timing_double(self, h, attr):
        assert attr == SAMP_CLK_RATE, hex(attr)
        rate = self._t(h).timing[0]
        return float(self.coerce_rate(rate) if self.coerce_rate else rate)

    def _get_read_u32(self, h, attr):
        assert attr == NUM_CHANS_READ, hex(attr)
        return len(self._t(h).ai)

    def _get_write_u32(self, h, attr):
        assert attr == NUM_CHANS_WRITE, hex(attr)
        t = self._t(h)
        return len(t.ao) if t.ao else len(t.do)

    def _get_read_u64(self, h, attr):
        assert attr == TOTAL_ACQUIRED, hex(attr)
        return self._t(h).acquired

    def _start(self, h) -> None:
        with self.cond:
            t = self._t(h)
            if t.kind in ("ao", "do") and t.timing is not None and t.n_written == 0:
                raise DaqError("output buffer empty", -200462)
            t.running = True
            t.starts += 1
            t.acquired = 0
            self.cond.notify_all()

    def _stop(self, h) -> None:
        with self.cond:
            t = self.by_handle[h]
            t.running = False
            if t.kind in ("ao", "do"):
                t.out.clear()  # a stopped non-regenerating output task forgets its buffer
            self.cond.notify_all()

    def _clear(self, h) -> None:
        with self.cond:
            t = self.by_handle[h]
            t.running = False
            t.cleared = True
            self.cond.notify_all()

    def _running_outputs(self) -> list[FakeTask]:
        return [t for t in self.live_outputs() if t.running and t.timing is not None]

    def _read(self, h, n, timeout, fill_mode, arr):
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and arr.flags.writeable
        with self.cond:
            t = self._t(h)
            assert arr.shape == (len(t.ai), n), (arr.shape, len(t.ai), n)
            call = self.reads
            self.reads += 1
            if call == self.gate_at:
                self.at_gate.set()
                self.cond.release()
                try:
                    self.gate.wait(timeout)
                finally:
                    self.cond.acquire()
            if call in self.read_errors:
                code, extra = self.read_errors[call]
                t.acquired += extra  # samples the board acquired that the host never read
                self.on_read_error()
                raise DaqReadError(f"injected {code}", code, 0)
            # The clock only runs while AI runs; outputs must hold data for these samples.
            first = t.acquired
            if self.pace:
                ok = self.cond.wait_for(
                    lambda: not t.running
                    or all(o.n_written >= first + n for o in self._running_outputs()),
                    timeout=timeout,
                )
                if not t.running:
                    raise DaqReadError("task stopped", -200088, 0)
                if not ok:
                    raise DaqReadError("timeout", -200284, 0)
            if not t.running:
                raise DaqReadError("task not running", -200088, 0)
            idx = np.arange(first, first + n, dtype=np.float64)
            for c in range(len(t.ai)):
                arr[c] = 1e-6 * idx  # a ramp: position is visible in the data
            ao = [o for o in self._running_outputs() if o.kind == "ao"]
            for ao_i, ai_i in self.loopback.items():
                arr[ai_i] = 0.0
                if ao:
                    seg = ao[0].segment(ao_i, first, n)
                    arr[ai_i, : seg.shape[0]] = seg * self.loopback_scale
            for ai_i, volts in self.ai_constant.items():
                arr[ai_i] = volts
            t.acquired += n
            self.cond.notify_all()
            return arr, n

    def _write_analog(self, h, n, auto_start, timeout, layout, data):
        assert data.dtype == np.float64 and data.flags.c_contiguous
        with self.cond:
            t = self._t(h)
            data = data.reshape(len(t.ao), -1)
            assert data.shape[1] == n
            if t.timing is None:
                t.immediate.append(data.copy())
                return n
            call = self.ao_writes
            self.ao_writes += 1
            if call in self.write_errors:
                code = self.write_errors[call]
                raise DaqWriteError(f"injected {code}", code, 0)
            t.out.append(data.copy())
            self.cond.notify_all()
            return n

    def _write_digital(self, h, n, auto_start, timeout, layout, data):
        assert data.dtype == np.uint32 and data.flags.c_contiguous and data.shape == (n,)
        with self.cond:
            t = self._t(h)
            if t.timing is None:
                t.immediate.append(data.copy())
                return n
            t.out.append(data.copy())
            self.cond.notify_all()
            return n
