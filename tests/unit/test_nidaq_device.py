"""NidaqDevice against real nidaqmx.Task objects over an autospecced interpreter."""

from __future__ import annotations

from unittest import mock

import nidaqmx
import numpy as np
import pytest
from nidaqmx.constants import (
    AcquisitionType,
    AOIdleOutputBehavior,
    Edge,
    LineGrouping,
    RegenerationMode,
    TaskMode,
    TerminalConfiguration,
)
from nidaqmx.errors import DaqError, DaqNotFoundError

from drivers.base import DeviceError
from drivers.nidaq import AIChannel, AOChannel, NidaqDevice, OutputUnderflowError
from drivers.nidaq.pending import PendingOutputs
from drivers.nidaq.tasks import do_port_words

try:
    from nidaq_fake import AO_IDLE, INPUT_BUF, OUTPUT_BUF, REGEN_MODE, FakeBoard
except ImportError:  # tests/ imported as a package
    from tests.nidaq_fake import AO_IDLE, INPUT_BUF, OUTPUT_BUF, REGEN_MODE, FakeBoard

FS = 20_000
BLOCK = 1_000


class Clock:
    """Deterministic seconds for the restart-gap measurement."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 1})  # AO0 wired to AI1 (the stimulus monitor input)
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


def make_device(clock=None, **kw) -> NidaqDevice:
    """The typical rig: amplifier on AI0, stimulus monitor on AI1, isolator on AO0, TTL line."""
    args = dict(
        device="Dev1",
        sample_rate_hz=FS,
        ai=[AIChannel("Dev1/ai0", "DIFF", -5.0, 5.0)],
        ao=[AOChannel("Dev1/ao0", -10.0, 10.0)],
        do_lines=["Dev1/port0/line0", "Dev1/port0/line3"],
        block_samples=BLOCK,
        monitor=AIChannel("Dev1/ai1", "RSE", -10.0, 10.0),
        clock=clock or Clock(),
    )
    args.update(kw)
    return NidaqDevice(**args)


def pulses(start: int, n: int, at: list[int], volts: float = 2.0):
    """AO (1, n) with 10-sample pulses at absolute samples ``at``; DO line0 high with them,
    line3 high on the second half of the block."""
    ao = np.zeros((1, n))
    do = np.zeros((2, n), np.uint8)
    for a in at:
        if start <= a < start + n:
            ao[0, a - start : a - start + 10] = volts
            do[0, a - start : a - start + 10] = 1
    do[1, n // 2 :] = 1
    return ao, do


def assert_outputs_safe(board: FakeBoard) -> None:
    """No timed output task left, last on-demand writes are 0 V / all lines low."""
    assert board.live_outputs() == [] or all(t.timing is None for t in board.live_outputs())
    ao_zero = [t for t in board.of_kind("ao") if t.timing is None][-1]
    do_zero = [t for t in board.of_kind("do") if t.timing is None][-1]
    assert np.all(ao_zero.immediate[-1] == 0.0)
    assert int(do_zero.immediate[-1][0]) == 0
    assert ao_zero.cleared and do_zero.cleared


def test_missing_driver_is_a_clear_device_error():
    assert not issubclass(DaqNotFoundError, DaqError)
    with pytest.raises(DeviceError, match="driver is not installed.*--sim"):
        make_device()


def test_missing_device_suggests_sim(board):
    board.interp.reset_device.side_effect = DaqError("Device identifier is invalid", -200220)
    with pytest.raises(DeviceError, match="'Dev1' was not found.*--sim"):
        make_device()


def test_pinned_task_configuration(board):
    dev = make_device()
    # Start-up safety: reset, then 0 V / LOW written on demand before anything is armed.
    assert board.resets == ["Dev1"]
    assert_outputs_safe(board)
    dev.start()
    try:
        ai, ao, do = board.last("ai"), board.last("ao"), board.last("do")
        assert ai.ai == [
            ("Dev1/ai0", TerminalConfiguration.DIFF.value, -5.0, 5.0),
            ("Dev1/ai1", TerminalConfiguration.RSE.value, -10.0, 10.0),
        ]
        assert ai.timing == (FS, "", Edge.RISING.value, AcquisitionType.CONTINUOUS.value, 200_000)
        assert ai.attrs == {INPUT_BUF: 200_000}  # 10 s host buffer, set explicitly
        assert ai.trigger is None
        assert ao.ao == [("Dev1/ao0", -10.0, 10.0)]
        lines = "Dev1/port0/line0,Dev1/port0/line3"
        assert do.do == [(lines, LineGrouping.CHAN_FOR_ALL_LINES.value)]
        for out in (ao, do):
            assert out.timing == (
                FS, "/Dev1/ai/SampleClock", Edge.RISING.value,
                AcquisitionType.CONTINUOUS.value, 100_000,
            )
            assert out.trigger == ("/Dev1/ai/StartTrigger", Edge.RISING.value)
            assert out.attrs == {
                REGEN_MODE: RegenerationMode.DONT_ALLOW_REGENERATION.value,
                OUTPUT_BUF: 100_000,
            }
        assert ao.chan_attrs == {("Dev1/ao0", AO_IDLE): AOIdleOutputBehavior.ZERO_VOLTS.value}
        for t in (ai, ao, do):
            assert t.controls == [TaskMode.TASK_COMMIT.value]
        # Outputs are started (armed on the AI start trigger) before AI starts the clock.
        starts = [c.args[0] for c in board.interp.start_task.call_args_list]
        assert starts == [do.handle, ao.handle, ai.handle]
        assert dev.ai_channels == ["Dev1/ai0", "Dev1/ai1"] and dev.monitor_index == 1
    finally:
        dev.close()


def test_output_blocks_land_at_the_rendered_samples(board):
    at = [500, 2_600, 5_123, 7_999]
    with make_device() as dev:
        sent = []
        for s in range(0, 4_000, 2_000):  # written ahead before the clock starts
            ao, do = pulses(s, 2_000, at)
            dev.write(s, ao, do)
            sent.append((ao, do))
        dev.start()
        blocks = []
        while dev.written_until < 10_000:
            b = dev.read()
            blocks.append(b)
            s = dev.written_until
            ao, do = pulses(s, 1_000, at)
            dev.write(s, ao, do)
            sent.append((ao, do))
        while len(blocks) < 8:
            blocks.append(dev.read())
        ao_task, do_task = board.last("ao"), board.last("do")
        ao_sent = np.concatenate([a for a, _ in sent], axis=1)
        do_sent = np.concatenate([d for _, d in sent], axis=1)
        np.testing.assert_array_equal(ao_task.written, ao_sent)
        np.testing.assert_array_equal(do_task.written, do_port_words(do_sent, [0, 3]))
        assert (do_task.written[[0, 500, 1_500, 7_999]] == [0, 0b0001, 0b1000, 0b1001]).all()
    assert [b.start for b in blocks] == list(range(0, 8_000, BLOCK))
    assert all(b.gap == 0 for b in blocks)
    # One fixed float64 buffer for every read_many_sample; blocks handed out are copies.
    bufs = {id(c.args[4]) for c in board.interp.read_analog_f64.call_args_list}
    assert len(bufs) == 1 and all(id(b.data) not in bufs for b in blocks)
    data = np.concatenate([b.data for b in blocks], axis=1)
    np.testing.assert_allclose(data[0], 1e-6 * np.arange(8_000))  # ramp: no sample lost
    onsets = np.flatnonzero(np.diff((data[1] > 1.0).astype(int)) == 1) + 1
    assert onsets.tolist() == [a for a in at if a < 8_000]  # loopback AO0 → AI1
    assert_outputs_safe(board)


def test_prime_zeros_when_nothing_written(board):
    with make_device(prime_samples=3_000) as dev:
        dev.start()
        assert dev.written_until == 3_000
        assert board.last("ao").written.shape == (1, 3_000)
        assert not board.last("ao").written.any()


def run_with_overflow(board, clock, at, n_blocks=12):
    with make_device(clock=clock) as dev:
        ao, do = pulses(0, 30_000, at)
        dev.write(0, ao, do)
        dev.start()
        blocks = [dev.read() for _ in range(n_blocks)]
        return dev, blocks


def test_overflow_restarts_and_reports_the_counted_gap(board):
    board.read_errors = {3: (-200279, 5_000)}  # 5000 samples acquired but overwritten
    at = [500, 9_500, 12_345]
    dev, blocks = run_with_overflow(board, Clock(), at)
    starts = [b.start for b in blocks]
    assert starts[:3] == [0, 1_000, 2_000]
    assert blocks[3].start == 8_000 and blocks[3].gap == 5_000
    assert starts[4:] == list(range(9_000, 17_000, 1_000))
    assert all(b.gap == 0 for i, b in enumerate(blocks) if i != 3)
    assert dev.last_gap_method == "device_count+wall_clock_restart"
    assert dev.gaps == [(8_000, 5_000, "device_count+wall_clock_restart")]
    assert [t.starts for t in board.timed("ai")] == [2]  # the AI task restarted
    assert len(board.timed("ao")) == 2  # outputs rebuilt and re-primed from sample 8000
    # While stopped, AO was driven to 0 V on demand (it may have stopped mid-pulse).
    order = [t for t in board.of_kind("ao")]
    i_first, i_second = order.index(board.timed("ao")[0]), order.index(board.timed("ao")[1])
    between = order[i_first + 1 : i_second]
    assert between and all(t.timing is None and np.all(t.immediate[-1] == 0) for t in between)
    # Pulses after the gap are still delivered at their own samples (loopback).
    data = np.concatenate([b.data for b in blocks[3:]], axis=1)
    onsets = np.flatnonzero(np.diff((data[1] > 1.0).astype(int)) == 1) + 1 + 8_000
    assert onsets.tolist() == [9_500, 12_345]
    assert_outputs_safe(board)


def test_overflow_gap_by_wall_clock_when_count_unreadable(board):
    clock = Clock()
    board.read_errors = {2: (-200010, 0)}
    orig = board.interp.get_read_attribute_uint64.side_effect

    def no_count(h, attr):
        raise DaqError("property not available", -200983)

    board.interp.get_read_attribute_uint64.side_effect = no_count
    board.on_read_error = lambda: setattr(clock, "t", clock.t + 0.25)  # 0.25 s dead
    dev, blocks = run_with_overflow(board, clock, [], n_blocks=4)
    board.interp.get_read_attribute_uint64.side_effect = orig
    assert [(b.start, b.gap) for b in blocks] == [(0, 0), (1_000, 0), (7_000, 5_000), (8_000, 0)]
    assert dev.last_gap_method == "wall_clock"


def test_write_after_a_gap_drops_samples_now_in_the_past(board):
    board.read_errors = {1: (-200279, 20_000)}
    with make_device(prime_samples=2_000) as dev:
        dev.write(0, *pulses(0, 3_000, []))
        dev.start()
        b0, b1 = dev.read(), dev.read()
        assert (b0.start, b1.start, b1.gap) == (0, 21_000, 20_000)
        assert dev.written_until == 23_000  # skipped ahead, zero-filled prime
        # The engine is still at its old cursor: what is now in the past (or already primed
        # with zeros) is dropped, the rest lands at its own samples.
        dev.write(3_000, *pulses(3_000, 21_000, [22_500, 23_200]))
        assert dev.written_until == 24_000
        dev.write(24_000, *pulses(24_000, 1_000, []))
        blocks = [dev.read() for _ in range(3)]
    data = np.concatenate([b.data for b in blocks], axis=1)
    onsets = np.flatnonzero(np.diff((data[1] > 1.0).astype(int)) == 1) + 1 + 22_000
    assert onsets.tolist() == [23_200]


def test_fatal_read_error_zeroes_outputs_and_raises(board):
    board.read_errors = {2: (-50103, 0)}  # resource reserved: not recoverable
    with make_device() as dev:
        dev.write(0, *pulses(0, 10_000, [100]))
        dev.start()
        dev.read(), dev.read()
        with pytest.raises(DeviceError, match="-50103"):
            dev.read()
        assert dev.outputs_disabled is not None
        assert_outputs_safe(board)
        assert board.last("ai").cleared


def test_output_underflow_stops_stimulation_but_not_acquisition(board):
    board.write_errors = {2: -200290}
    with make_device() as dev:
        dev.write(0, *pulses(0, 3_000, []))
        dev.start()
        dev.write(3_000, *pulses(3_000, 1_000, []))
        assert dev.read().start == 0
        with pytest.raises(OutputUnderflowError, match="-200290"):
            dev.write(4_000, *pulses(4_000, 1_000, [4_100]))
        assert isinstance(OutputUnderflowError("x"), DeviceError)
        assert_outputs_safe(board)
        dev.write(5_000, *pulses(5_000, 1_000, [5_100]))  # accepted and dropped
        assert dev.written_until == 6_000
        starts = [dev.read().start for _ in range(6)]
        assert starts == list(range(1_000, 7_000, 1_000))
        assert len(board.timed("ao")) == 1  # never re-armed


def test_fatal_write_error_zeroes_outputs(board):
    board.write_errors = {1: -50103}
    with make_device() as dev:
        dev.write(0, *pulses(0, 3_000, []))
        dev.start()
        with pytest.raises(DeviceError, match="-50103") as err:
            dev.write(3_000, *pulses(3_000, 1_000, []))
        assert not isinstance(err.value, OutputUnderflowError)
        assert_outputs_safe(board)


@pytest.mark.parametrize("exc", [RuntimeError("engine bug"), KeyboardInterrupt()])
def test_exception_and_sigint_paths_zero_outputs(board, exc):
    with pytest.raises(type(exc)):
        with make_device() as dev:
            dev.write(0, *pulses(0, 5_000, [10, 20]))
            dev.start()
            dev.read()
            raise exc
    assert_outputs_safe(board)
    assert all(t.cleared for t in board.tasks)
    assert board.resets == ["Dev1", "Dev1"]  # at open and at close


def test_close_is_idempotent_and_stops_reader(board):
    dev = make_device()
    dev.write(0, *pulses(0, 5_000, []))
    dev.start()
    dev.read()
    dev.close()
    dev.close()
    assert not dev._reader.is_alive()
    with pytest.raises(DeviceError):
        while True:
            dev.read()


def test_wrong_api_use_fails():
    """The autospecced interpreter rejects calls the real driver would not accept."""
    b = FakeBoard()
    with pytest.raises(TypeError):
        b.interp.cfg_samp_clk_timing("h", 20_000.0, "", 10280)  # missing arguments
    with pytest.raises(AttributeError):
        b.interp.cfg_sample_clock_timing  # noqa: B018 - misspelt method
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        with nidaqmx.Task("t") as task, pytest.raises(AttributeError):
            task.in_stream.input_buffer_size = 10  # misspelt property


def test_config_validation():
    with pytest.raises(ValueError, match="port0"):
        make_device(do_lines=["Dev1/port1/line0"])
    with pytest.raises(ValueError, match="not on device"):
        make_device(ai=[AIChannel("Dev2/ai0")])
    with pytest.raises(ValueError, match=">= 10 s"):
        make_device(input_buffer_s=5)
    with pytest.raises(ValueError, match="terminal config"):
        AIChannel("Dev1/ai0", "SINGLE")


def test_pending_outputs_slice_and_skip():
    p = PendingOutputs(1, 1)
    p.append(0, np.arange(10.0)[None], np.ones((1, 10), np.uint8))
    p.append(10, np.arange(10.0, 20.0)[None], np.zeros((1, 10), np.uint8))
    ao, do = p.slice(5, 25)
    np.testing.assert_array_equal(ao[0], np.r_[np.arange(5.0, 20.0), np.zeros(5)])
    np.testing.assert_array_equal(do[0], np.r_[np.ones(5), np.zeros(15)])
    p.drop_before(10)
    assert p.slice(0, 10)[0].sum() == 0
    p.skip_to(30)
    assert p.end == 30
    with pytest.raises(ValueError):
        p.append(31, np.zeros((1, 1)), np.zeros((1, 1), np.uint8))


def test_zero_outputs_before_start_keeps_written_outputs(board):
    """The engine zeroes the outputs at start-up, then writes ahead and starts."""
    with make_device() as dev:
        dev.write(0, *pulses(0, 3_000, [100]))
        dev.zero_outputs()
        dev.start()
        assert dev.outputs_disabled is None
        assert board.last("ao").written[0, 100] == 2.0
        dev.zero_outputs()  # while running: outputs closed, stay off
        assert dev.outputs_disabled is not None
        assert_outputs_safe(board)


def test_ao_beyond_the_channel_limits_is_clipped(board):
    with make_device(ao=[AOChannel("Dev1/ao0", -5.0, 5.0)]) as dev:
        ao, do = pulses(0, 3_000, [100], volts=7.0)
        dev.write(0, ao, do)
        dev.start()
        assert board.last("ao").written.max() == 5.0
        assert dev.clipped_samples == 10


def test_start_error_is_one_line_and_leaves_nothing_armed(board):
    dev = make_device()
    board.interp.create_ao_voltage_chan.side_effect = DaqError(
        "Physical channel specified does not exist on this device.\nPhysical Channel Name: ao7"
        "\n\nTask Name: ltprig_Dev1_ao", -200170)
    with pytest.raises(DeviceError) as err:
        dev.start()
    msg = str(err.value)
    assert "\n" not in msg and "does not exist" in msg and "(DAQmx -200170)" in msg
    board.interp.create_ao_voltage_chan.side_effect = lambda h, phys, *a: board.by_handle[
        h].ao.append((phys, *a[1:3]))
    dev.close()
    assert all(t.cleared for t in board.tasks)
    assert_outputs_safe(board)


def test_rig_without_ttl_lines_and_without_idle_behaviour_support(board):
    """No DO task when there are no lines; a board without the idle-output property works."""

    def no_idle(h, ch, attr, value):
        raise DaqError("Specified property is not supported by the device", -200452)

    board.interp.set_chan_attribute_int32.side_effect = no_idle
    with make_device(do_lines=[]) as dev:
        dev.write(0, np.zeros((1, 3_000)), np.zeros((0, 3_000), np.uint8))
        dev.start()
        assert dev.read().start == 0
        with pytest.raises(ValueError, match="1 AO and 0 DO"):
            dev.write(3_000, np.zeros((2, 10)), np.zeros((0, 10), np.uint8))
    assert board.of_kind("do") == [] and len(board.timed("ao")) == 1
