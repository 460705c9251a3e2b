"""The board demultiplexer (drivers.sites): each site's view, merged outputs, a site's stop."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim.board import MultiSlice, SliceWiring
from drivers.sim.device import SimDevice
from drivers.sites import SharedDevice, SiteMap


class Echo:
    """A slice whose single AI reads back its electrode's current (µA → V / 1000)."""

    n_ai = 1

    def __init__(self) -> None:
        self.starts: list[int] = []

    def respond(self, start, stim_uA, ttl):
        self.starts.append(start)
        return stim_uA[:1] / 1000.0


def board(offsets=(0, 4)):
    slices = [Echo(), Echo()]
    block = 2
    maps = [SiteMap(ai=(k,), ao=(k,), do=(k,), offset=o * block) for k, o in enumerate(offsets)]
    model = MultiSlice(slices, [SliceWiring(m.ao, m.do, m.ai, m.offset) for m in maps], 2)
    dev = SimDevice(model, ai_channels=["ai0", "ai1"], ao_channels=["ao0", "ao1"], do_lines=["l0", "l1"],
                    block_samples=block, speed=None)
    return SharedDevice(dev, maps), dev, slices


def test_views_see_their_own_channels_on_their_own_time_base():
    shared, dev, slices = board()
    a, b = shared.views
    assert a.ai_channels == ["ai0"] and b.ao_channels == ["ao1"] and b.do_lines == ["l1"]
    for v, uA in ((a, 100.0), (b, 300.0)):
        v.write(0, np.full((1, 12), uA / 100.0), np.ones((1, 12), np.uint8))
    a.start()
    b.start()
    got = {}

    import threading

    def reader(v, name):
        got[name] = [v.read() for _ in range(3)]
        v.stop()  # an engine reads until its plan ends, then stops its view

    ts = [threading.Thread(target=reader, args=(v, n)) for v, n in ((a, "a"), (b, "b"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert [blk.start for blk in got["a"]] == [0, 2, 4]
    assert [blk.start for blk in got["b"]] == [0, 2, 4]  # local time: board sample 8 is b's sample 0
    assert got["a"][0].data.shape == (1, 2)
    assert np.allclose(got["b"][0].data, 0.3, atol=1e-3)  # its own current, nobody else's
    assert slices[1].starts[0] == 0  # the slice itself starts at its own sample 0


def test_offsets_must_be_whole_blocks():
    slices = [Echo()]
    dev = SimDevice(MultiSlice(slices, [SliceWiring((0,), (), (0,))], 1), ai_channels=["ai0"], ao_channels=["ao0"],
                    block_samples=4, speed=None)
    with pytest.raises(ValueError, match="multiple of the device block"):
        SharedDevice(dev, [SiteMap(ai=(0,), ao=(0,), offset=6)])


def test_a_stopped_site_is_zeroed_now_and_the_others_keep_their_outputs():
    shared, dev, _ = board(offsets=(0, 0))
    a, b = shared.views
    a.write(0, np.full((1, 20), 1.0), np.ones((1, 20), np.uint8))
    b.write(0, np.full((1, 20), 2.0), np.ones((1, 20), np.uint8))
    assert dev.written_until == 20  # merged once both had written
    a.start()
    b.start()
    a.zero_outputs()
    a.stop()
    queued_ao = np.concatenate([x[1] for x in dev._pending], axis=1)
    queued_do = np.concatenate([x[2] for x in dev._pending], axis=1)
    assert not queued_ao[0].any() and not queued_do[0].any()  # site A: 0 V / LOW in what was written ahead
    assert (queued_ao[1] == 2.0).all() and queued_do[1].all()  # site B untouched
    b.write(20, np.full((1, 4), 2.0), np.ones((1, 4), np.uint8))  # B goes on alone; A contributes 0 V
    assert dev.written_until == 24
    blk = b.read()
    assert blk.start == 0
    shared.close()
    assert not dev.last_ao_V.any() and not dev.last_do.any() and dev.zeroed_count >= 1
    assert not dev.running


def test_board_reads_wait_for_every_running_site():
    """Lockstep: a new block is read only once every running site has taken the last one."""
    shared, dev, _ = board(offsets=(0, 0))
    a, b = shared.views
    for v in (a, b):
        v.write(0, np.zeros((1, 40)), np.zeros((1, 40), np.uint8))
        v.start()
    import threading

    first = threading.Event()

    def read_a():
        a.read()
        first.set()
        a.read()

    t = threading.Thread(target=read_a)
    t.start()
    assert not first.wait(0.3)  # b has not asked yet: nothing is read
    b.read()
    assert first.wait(5)
    t.join(0.3)
    assert t.is_alive()  # a's second block waits for b
    b.read()
    t.join(5)
    assert not t.is_alive() and dev.underflow_samples == 0


def test_a_board_that_fails_to_start_fails_every_site():
    shared, dev, _ = board(offsets=(0, 0))
    a, b = shared.views

    def refuse():
        raise RuntimeError("rate coerced")

    dev.start = refuse
    a.start()
    with pytest.raises(RuntimeError, match="rate coerced"):
        b.start()  # the last site to arm starts the board
    from drivers.base import DeviceError

    with pytest.raises(DeviceError, match="board failed"):
        a.read()  # the other site does not wait for a clock that never runs
