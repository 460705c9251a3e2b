"""Building and tearing down the DAQmx tasks: one AI task that owns the sample clock, an AO
task and a DO task slaved to it. Every function here talks to ``nidaqmx`` and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nidaqmx
import numpy as np
from nidaqmx.constants import (
    AcquisitionType,
    AOIdleOutputBehavior,
    Edge,
    LineGrouping,
    RegenerationMode,
    TaskMode,
    TerminalConfiguration,
)
from nidaqmx.errors import DaqError
from nidaqmx.stream_writers import AnalogMultiChannelWriter, DigitalSingleChannelWriter

from drivers.base import SampleRateError
from drivers.nidaq.config import AIChannel, AOChannel

log = logging.getLogger(__name__)


def ai_clock(device: str) -> str:
    """Terminal of the AI sample clock that AO and DO follow."""
    return f"/{device}/ai/SampleClock"


def ai_start_trigger(device: str) -> str:
    """Terminal of the AI start trigger that AO and DO wait for."""
    return f"/{device}/ai/StartTrigger"


RATE_TOLERANCE = 1e-9  # relative difference allowed between the requested and the board's rate


def check_coerced_rate(task: nidaqmx.Task, requested_hz: float) -> float:
    """Read back the sample clock rate the board actually runs at (DAQmx coerces a rate it
    cannot divide down to); raise :class:`SampleRateError` when it is not ``requested_hz``."""
    actual = float(task.timing.samp_clk_rate)
    if not abs(actual - requested_hz) <= RATE_TOLERANCE * requested_hz:
        raise SampleRateError(
            f"sample rate: the board runs at {actual:.9g} Hz, not the {requested_hz:.9g} Hz the rig file "
            "asks for (sample_rate_hz); choose a rate the board can make exactly (e.g. 20000 or 10000)",
            requested_hz, actual)
    return actual


def make_ai_task(
    name: str, channels: Sequence[AIChannel], rate_hz: float, buffer_samples: int
) -> nidaqmx.Task:
    """Continuous hardware-timed AI on the device's own sample clock, committed; raises
    :class:`SampleRateError` when the board coerced ``rate_hz``."""
    task = nidaqmx.Task(name)
    try:
        for ch in channels:
            task.ai_channels.add_ai_voltage_chan(
                ch.physical,
                terminal_config=TerminalConfiguration[ch.terminal_config.upper()],
                min_val=ch.min_V,
                max_val=ch.max_V,
            )
        task.timing.cfg_samp_clk_timing(
            rate_hz, sample_mode=AcquisitionType.CONTINUOUS, samps_per_chan=buffer_samples
        )
        check_coerced_rate(task, rate_hz)  # nothing started yet: a coerced rate is refused here
        # samps_per_chan is only a hint for continuous input: set the host buffer explicitly.
        task.in_stream.input_buf_size = buffer_samples
        task.control(TaskMode.TASK_COMMIT)
    except BaseException:
        task.close()
        raise
    return task


def _slave_timing(task: nidaqmx.Task, device: str, rate_hz: float, buffer_samples: int) -> None:
    task.timing.cfg_samp_clk_timing(
        rate_hz,
        source=ai_clock(device),
        sample_mode=AcquisitionType.CONTINUOUS,
        samps_per_chan=buffer_samples,
    )
    task.triggers.start_trigger.cfg_dig_edge_start_trig(ai_start_trigger(device), Edge.RISING)
    task.out_stream.regen_mode = RegenerationMode.DONT_ALLOW_REGENERATION
    task.out_stream.output_buf_size = buffer_samples


def make_ao_task(
    name: str, device: str, channels: Sequence[AOChannel], rate_hz: float, buffer_samples: int
) -> nidaqmx.Task:
    """AO clocked by the AI sample clock, started by the AI start trigger, no regeneration,
    idle output 0 V where the device supports it."""
    task = nidaqmx.Task(name)
    try:
        for ch in channels:
            chan = task.ao_channels.add_ao_voltage_chan(
                ch.physical, min_val=ch.min_V, max_val=ch.max_V
            )
            try:
                chan.ao_idle_output_behavior = AOIdleOutputBehavior.ZERO_VOLTS
            except DaqError as exc:  # not every device has the property
                log.info("%s: idle output behaviour not set (%s)", ch.physical, exc.error_code)
        _slave_timing(task, device, rate_hz, buffer_samples)
        task.control(TaskMode.TASK_COMMIT)
    except BaseException:
        task.close()
        raise
    return task


def make_do_task(
    name: str, device: str, lines: Sequence[str], rate_hz: float, buffer_samples: int
) -> nidaqmx.Task:
    """One DO channel holding every port0 line, clocked like the AO task."""
    task = nidaqmx.Task(name)
    try:
        task.do_channels.add_do_chan(",".join(lines), line_grouping=LineGrouping.CHAN_FOR_ALL_LINES)
        _slave_timing(task, device, rate_hz, buffer_samples)
        task.control(TaskMode.TASK_COMMIT)
    except BaseException:
        task.close()
        raise
    return task


def do_port_words(do: np.ndarray, line_numbers: Sequence[int]) -> np.ndarray:
    """(n_lines, n) 0/1 → (n,) uint32 port0 words (bit k drives port0/line k, per DAQmx's
    integer digital format)."""
    words = np.zeros(do.shape[1], np.uint32)
    for row, line in zip(do, line_numbers, strict=True):
        words |= (row.astype(np.uint32) & 1) << np.uint32(line)
    return words


def write_ao(task: nidaqmx.Task, ao_V: np.ndarray, timeout_s: float) -> None:
    AnalogMultiChannelWriter(task.out_stream, auto_start=False).write_many_sample(
        np.ascontiguousarray(ao_V, dtype=np.float64), timeout=timeout_s
    )


def write_do(
    task: nidaqmx.Task, do: np.ndarray, line_numbers: Sequence[int], timeout_s: float
) -> None:
    DigitalSingleChannelWriter(task.out_stream, auto_start=False).write_many_sample_port_uint32(
        do_port_words(do, line_numbers), timeout=timeout_s
    )


def write_idle_outputs(
    device: str, ao: Sequence[AOChannel], do_lines: Sequence[str], name: str
) -> None:
    """0 V on every AO and LOW on every DO line, now, through short on-demand tasks
    (AO holds the last value after the task closes)."""
    if ao:
        with nidaqmx.Task(f"{name}_ao_zero") as task:
            for ch in ao:
                task.ao_channels.add_ao_voltage_chan(
                    ch.physical, min_val=ch.min_V, max_val=ch.max_V
                )
            writer = AnalogMultiChannelWriter(task.out_stream, auto_start=True)
            writer.write_one_sample(np.zeros(len(ao)))
    if do_lines:
        with nidaqmx.Task(f"{name}_do_zero") as task:
            task.do_channels.add_do_chan(
                ",".join(do_lines), line_grouping=LineGrouping.CHAN_FOR_ALL_LINES
            )
            writer = DigitalSingleChannelWriter(task.out_stream, auto_start=True)
            writer.write_one_sample_port_uint32(0)


def reset_device(device: str) -> bool:
    """Reset the board (AO → 0 V on M/C/X series, tasks aborted). False if not supported."""
    try:
        nidaqmx.system.Device(device).reset_device()
    except DaqError as exc:
        if exc.error_code in (-200220, -201003):
            raise
        log.warning("%s: reset_device not supported (%s)", device, exc.error_code)
        return False
    return True


def close_quietly(task: nidaqmx.Task | None) -> None:
    """Stop and close a task, logging (not raising) driver errors: used on exit paths."""
    if task is None:
        return
    for op in (task.stop, task.close):
        try:
            op()
        except Exception as exc:  # noqa: BLE001 - exit path, keep tearing down
            log.warning("closing task: %s", exc)
