"""``NidaqDevice``: the :class:`drivers.base.Device` contract on an NI-DAQmx board.

One AI task owns the sample clock. AO (isolator command) and DO (TTL lines, port0) tasks run on
``/DevN/ai/SampleClock`` and wait for ``/DevN/ai/StartTrigger``; they are started before AI,
so output sample *k* is generated on the same clock edge as AI sample *k*. Regeneration is off:
the engine writes outputs ahead with :meth:`NidaqDevice.write`.

A single reader thread blocks in ``AnalogMultiChannelReader.read_many_sample`` into a fixed
float64 buffer and hands copies to :meth:`NidaqDevice.read` through a bounded queue.

Errors:
* AI overflow (−200279/−200010/−200361/−200714): all tasks are stopped, rebuilt from the held
  outputs, and restarted; the next block carries ``gap`` = lost samples. The gap is counted by
  the device (``total_samp_per_chan_acquired`` minus samples read) plus the wall-clock time
  from that count to the re-arm × rate; when the count cannot be read it is the wall-clock time
  since the last good read × rate. ``last_gap_method`` says which.
* Output underflow (−200290/−200016/−200621/−200018): outputs are zeroed and disabled for the
  rest of the run, :class:`OutputUnderflowError` is raised once from :meth:`write`, AI goes on.
* Any other DAQmx error: outputs zeroed, AI stopped, :class:`DeviceError` raised.
* Missing driver/device: :class:`DeviceError` whose text suggests ``--sim``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

import nidaqmx
import numpy as np
from nidaqmx.errors import DaqError
from nidaqmx.stream_readers import AnalogMultiChannelReader

from drivers.base import Block, Device, DeviceError
from drivers.nidaq import tasks
from drivers.nidaq.config import AIChannel, AOChannel, check_channel_device, do_line_number
from drivers.nidaq.errors import OutputUnderflowError, driver_errors, is_overflow, is_underflow, one_line
from drivers.nidaq.pending import PendingOutputs

log = logging.getLogger(__name__)

_STOP = object()


class NidaqDevice(Device):
    """NI-DAQmx device (X series: PCIe-6353, USB-6363, …).

    ``ai`` are the recorded inputs; ``monitor`` (optional) is appended as the last AI channel
    (stimulus monitor, ground truth of the delivered command). ``ao`` are the isolator command
    outputs, ``do_lines`` the TTL lines (``"Dev1/port0/lineN"``). ``block_samples`` is the read
    size; ``input_buffer_s`` ≥ 10 s of host AI buffer; ``output_buffer_s`` of AO/DO buffer
    (must exceed the engine's write-ahead horizon); ``prime_samples`` zeros are written before
    the clock starts if the engine has not written anything yet. ``clock`` (s) measures the
    dead time of a restart.
    """

    def __init__(
        self,
        device: str,
        sample_rate_hz: float,
        ai: Sequence[AIChannel],
        ao: Sequence[AOChannel] = (),
        do_lines: Sequence[str] = (),
        *,
        block_samples: int = 1000,
        input_buffer_s: float = 10.0,
        output_buffer_s: float = 5.0,
        monitor: AIChannel | None = None,
        prime_samples: int | None = None,
        reset_on_open: bool = True,
        read_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if input_buffer_s < 10.0:
            raise ValueError(f"input_buffer_s must be >= 10 s, got {input_buffer_s}")
        if not ai:
            raise ValueError("at least one AI channel is required")
        if block_samples < 2:
            raise ValueError("block_samples must be >= 2")
        self.device = device
        self.sample_rate_hz = float(sample_rate_hz)
        self._ai = [*ai, *([monitor] if monitor is not None else [])]
        self._ao = list(ao)
        for ch in [*self._ai, *self._ao]:
            check_channel_device(ch.physical, device)
        self._line_numbers = [do_line_number(line, device) for line in do_lines]
        if len(set(self._line_numbers)) != len(self._line_numbers):
            raise ValueError(f"duplicate DO lines: {list(do_lines)}")
        self.ai_channels = [ch.physical for ch in self._ai]
        self.ao_channels = [ch.physical for ch in self._ao]
        self.do_lines = list(do_lines)
        self.monitor_index = len(self._ai) - 1 if monitor is not None else None
        self.block_samples = int(block_samples)
        self.input_buffer_samples = int(round(input_buffer_s * self.sample_rate_hz))
        self.output_buffer_samples = int(round(output_buffer_s * self.sample_rate_hz))
        self.prime_samples = int(prime_samples if prime_samples is not None else 2 * block_samples)
        self.read_timeout_s = read_timeout_s
        self._clock = clock  # seconds; only used to measure restart gaps
        self.last_gap_method: str | None = None
        self.gaps: list[tuple[int, int, str]] = []  # (first sample after gap, samples, method)
        self.outputs_disabled: str | None = None
        self.clipped_samples = 0

        self._pending = PendingOutputs(len(self._ao), len(self._line_numbers))
        self._out_lock = threading.RLock()
        self._ai_task: nidaqmx.Task | None = None
        self._ao_task: nidaqmx.Task | None = None
        self._do_task: nidaqmx.Task | None = None
        self._queue: queue.Queue = queue.Queue(
            maxsize=max(4, self.input_buffer_samples // self.block_samples)
        )
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = False
        self._closed = False
        self._run_first = 0  # absolute index of the first sample of the current AI run
        self._read_pos = 0  # absolute index of the next sample the reader will read
        self._last_read_t = 0.0
        self._name = f"ltprig_{device}"

        with self._driver_errors():
            if reset_on_open:
                tasks.reset_device(device)
            self._write_idle()

    def _driver_errors(self) -> driver_errors:
        return driver_errors(self.device)

    # ------------------------------------------------------------------ Device API
    @property
    def written_until(self) -> int:
        with self._out_lock:
            return self._pending.end

    def start(self) -> None:
        if self._started:
            raise DeviceError("device already started")
        with self._driver_errors():
            self._ai_task = tasks.make_ai_task(
                f"{self._name}_ai", self._ai, self.sample_rate_hz, self.input_buffer_samples
            )
            with self._out_lock:
                self._pending.skip_to(self.prime_samples)
                self._create_outputs()
                self._prime_and_start_outputs(0)
            self._ai_task.start()
        self._started = True
        self._last_read_t = self._clock()
        self._reader = threading.Thread(target=self._read_loop, name="nidaq-reader", daemon=True)
        self._reader.start()

    def read(self) -> Block:
        while True:
            if self._reader is None:
                raise DeviceError("device not started")
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                if not self._reader.is_alive() and self._queue.empty():
                    raise DeviceError("NI device stopped: no more samples") from None
                continue
            if isinstance(item, BaseException):
                raise item
            if item is _STOP:
                raise DeviceError("NI device stopped: no more samples")
            return item

    def write(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        ao_V = np.asarray(ao_V, dtype=np.float64)
        do = np.asarray(do, dtype=np.uint8)
        if ao_V.ndim != 2 or do.ndim != 2 or ao_V.shape[1] != do.shape[1]:
            raise ValueError(f"AO {ao_V.shape} and DO {do.shape} must be (n_ao, n), (n_do, n)")
        if ao_V.shape[0] != len(self._ao) or do.shape[0] != len(self._line_numbers):
            raise ValueError(f"AO {ao_V.shape} / DO {do.shape}: the device has "
                             f"{len(self._ao)} AO and {len(self._line_numbers)} DO lines")
        with self._out_lock:
            end = self._pending.end
            if start > end:
                raise ValueError(f"output write at sample {start}, expected {end}")
            # After a gap the device skips ahead (zero-filled): drop what is now in the past.
            skip = min(end - start, ao_V.shape[1])
            ao_V, do = ao_V[:, skip:], do[:, skip:]
            if ao_V.shape[1] == 0:
                return
            if self.outputs_disabled is not None:
                self._pending.skip_to(end + ao_V.shape[1])
                return
            ao_V = self._clip(ao_V)
            self._pending.append(end, ao_V, do)
            if self._started:
                self._pending.drop_before(self._read_pos)
                self._write_hw(ao_V, do)

    def zero_outputs(self) -> None:
        """0 V on every AO and LOW on every DO line, now.

        Before :meth:`start` this only writes the idle levels (outputs written ahead are kept).
        While the clock runs, the timed output tasks are closed and outputs stay disabled for
        the rest of the run (later writes only advance ``written_until``): a restarted output
        task could not find the AI start trigger again, so it would no longer be sample-exact.
        """
        with self._out_lock:
            if self._started and self.outputs_disabled is None:
                self.outputs_disabled = "zero_outputs() called while running"
            self._close_outputs()
            try:
                with self._driver_errors():
                    self._write_idle()
            except DeviceError as exc:
                log.error("zeroing outputs failed: %s", exc)

    def stop(self) -> None:
        self._stopping.set()
        self.zero_outputs()
        ai = self._ai_task
        if ai is not None:
            try:
                ai.stop()  # makes the reader's blocking read_many_sample return
            except Exception as exc:  # noqa: BLE001 - exit path
                log.warning("stopping AI: %s", exc)
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=self.read_timeout_s + 1.0)
        tasks.close_quietly(ai)
        self._ai_task = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop()
        try:
            tasks.reset_device(self.device)
        except Exception as exc:  # noqa: BLE001 - exit path
            log.warning("reset on close failed: %s", exc)

    # ------------------------------------------------------------------ outputs
    def _clip(self, ao_V: np.ndarray) -> np.ndarray:
        """Clip to each AO's limits (a safety net behind the renderer's own limit checks)."""
        if not self._ao:
            return ao_V
        lo = np.array([[ch.min_V] for ch in self._ao])
        hi = np.array([[ch.max_V] for ch in self._ao])
        out = np.clip(ao_V, lo, hi)
        n = int(np.count_nonzero(out != ao_V))
        if n:
            self.clipped_samples += n
            log.warning("%d AO samples clipped to the channel limits", n)
        return out

    def _create_outputs(self) -> None:
        """Create and commit the AO/DO tasks (not started). Caller holds ``_out_lock``."""
        if self.outputs_disabled is not None:
            return
        if self._ao:
            self._ao_task = tasks.make_ao_task(
                f"{self._name}_ao", self.device, self._ao, self.sample_rate_hz,
                self.output_buffer_samples,
            )
        if self._line_numbers:
            self._do_task = tasks.make_do_task(
                f"{self._name}_do", self.device, self.do_lines, self.sample_rate_hz,
                self.output_buffer_samples,
            )

    def _prime_and_start_outputs(self, first: int) -> None:
        """Write the held outputs from sample ``first`` and start the output tasks (they wait
        for the AI start trigger). Caller holds ``_out_lock``."""
        if self.outputs_disabled is not None:
            return
        ao_V, do = self._pending.slice(first, self._pending.end)
        self._write_hw(ao_V, do)
        for task in (self._do_task, self._ao_task):
            if task is not None:
                task.start()

    def _write_hw(self, ao_V: np.ndarray, do: np.ndarray) -> None:
        timeout = max(2.0, 2 * ao_V.shape[1] / self.sample_rate_hz)
        try:
            if self._ao_task is not None:
                tasks.write_ao(self._ao_task, ao_V, timeout)
            if self._do_task is not None:
                tasks.write_do(self._do_task, do, self._line_numbers, timeout)
        except DaqError as exc:
            reason = f"output error {exc.error_code}"
            self.outputs_disabled = reason
            self._close_outputs()
            try:
                self._write_idle()
            except Exception as exc2:  # noqa: BLE001 - report the first error
                log.error("zeroing outputs failed: %s", exc2)
            if is_underflow(exc):
                raise OutputUnderflowError(
                    f"stimulus output underflow (DAQmx {exc.error_code}): outputs were written "
                    "too late; stimulation stopped, outputs at 0 V"
                ) from exc
            raise DeviceError(f"NI output error: {one_line(exc)}") from exc

    def _close_outputs(self) -> None:
        tasks.close_quietly(self._ao_task)
        tasks.close_quietly(self._do_task)
        self._ao_task = self._do_task = None

    def _write_idle(self) -> None:
        tasks.write_idle_outputs(self.device, self._ao, self.do_lines, self._name)

    # ------------------------------------------------------------------ reader thread
    def _read_loop(self) -> None:
        n_ai = len(self._ai)
        buf = np.zeros((n_ai, self.block_samples), dtype=np.float64)
        reader = AnalogMultiChannelReader(self._ai_task.in_stream)
        gap = 0
        try:
            while not self._stopping.is_set():
                try:
                    reader.read_many_sample(buf, self.block_samples, timeout=self.read_timeout_s)
                except DaqError as exc:
                    if self._stopping.is_set():
                        break
                    if not is_overflow(exc):
                        raise
                    gap += self._restart(exc)
                    reader = AnalogMultiChannelReader(self._ai_task.in_stream)
                    continue
                self._last_read_t = self._clock()
                block = Block(self._read_pos, buf.copy(), gap)
                self._read_pos += self.block_samples
                gap = 0
                if not self._put(block):
                    break
                if self._out_lock.acquire(blocking=False):  # never wait for a slow write
                    try:
                        self._pending.drop_before(self._read_pos)
                    finally:
                        self._out_lock.release()
        except DaqError as exc:
            self._fail(DeviceError(f"NI acquisition error: {one_line(exc)}"), exc)
        except Exception as exc:  # noqa: BLE001 - must reach the engine
            self._fail(DeviceError(f"NI reader failed: {exc!r}"), exc)
        else:
            self._put(_STOP)

    def _put(self, item: object) -> bool:
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _fail(self, err: DeviceError, cause: BaseException) -> None:
        err.__cause__ = cause
        self.zero_outputs()
        tasks.close_quietly(self._ai_task)
        self._ai_task = None
        self._put(err)

    def _restart(self, exc: DaqError) -> int:
        """Stop and restart everything after an AI overflow; return the samples lost."""
        log.warning("AI overflow %s: restarting", exc.error_code)
        counted: int | None = None
        t_count = self._clock()
        try:
            counted = int(self._ai_task.in_stream.total_samp_per_chan_acquired)
        except DaqError:
            counted = None
        ai = self._ai_task
        with self._out_lock:
            self._close_outputs()
            self._write_idle()  # AO may have stopped mid-pulse: 0 V / LOW during the restart
            ai.stop()
            self._create_outputs()
            if counted is not None:
                lost = (self._run_first + counted) - self._read_pos
                method = "device_count+wall_clock_restart"
                t_ref = t_count
            else:
                lost = 0
                method = "wall_clock"
                t_ref = self._last_read_t
            # Dead time measured up to here; priming and starting take a few ms more (uncounted).
            dead = int(round((self._clock() - t_ref) * self.sample_rate_hz))
            first = self._read_pos + max(0, lost) + dead
            self._pending.drop_before(first)
            self._pending.skip_to(first + self.prime_samples)
            self._prime_and_start_outputs(first)
            ai.start()
        gap = first - self._read_pos
        self._run_first = self._read_pos = first
        self.last_gap_method = method
        self.gaps.append((first, gap, method))
        log.warning("AI restarted at sample %d after a gap of %d samples (%s)", first, gap, method)
        return gap
