"""A starved program on a paced board (issue 19: a starved `--speed 200` multi-site run grew to
gigabytes): the simulator's catch-up is bounded in memory and per read, and the shared board
stops every site with a clear message once it keeps overflowing."""

from __future__ import annotations

import resource
import threading
import time

import numpy as np
import pytest

from drivers.base import Block, DeviceError
from drivers.sim.board import MultiSlice, SliceWiring
from drivers.sim.device import MAX_CATCH_UP_BUFFERS, SimDevice
from drivers.sites import STARVED_IN_A_ROW, BoardStarved, SharedDevice, SiteMap, Starvation


class Counting:
    """A slice that records the length of every call (no samples kept)."""

    n_ai = 1

    def __init__(self) -> None:
        self.calls: list[int] = []

    def respond(self, start, stim_uA, ttl):
        self.calls.append(stim_uA.shape[1])
        return np.zeros((1, stim_uA.shape[1]))


def test_a_read_far_behind_catches_up_in_bounded_pieces_and_at_most_six_buffers():
    sl = Counting()
    dev = SimDevice(sl, block_samples=1000, speed=1000.0, buffer_s=0.5)  # 10 000-sample host buffer
    dev.write(0, np.zeros((1, 2000)), np.zeros((0, 2000), np.uint8))
    dev.start()
    time.sleep(0.5)  # 0.5 s at 1000× real time: 10 M samples behind
    blk = dev.read()
    assert blk.gap == MAX_CATCH_UP_BUFFERS * dev.buffer_samples  # not the 10 M samples
    assert max(sl.calls) <= dev.buffer_samples  # the slice ran over the loss one buffer at a time
    nxt = dev.read()
    assert nxt.gap > 0 and nxt.start == blk.start + 1000 + nxt.gap  # the rest is lost at the next read


def test_memory_of_a_starved_read_does_not_grow_with_the_stall():
    from drivers.sim.slice import make_slice

    dev = SimDevice(make_slice(20000.0, 2, 1, n_ai=1), ao_channels=["ao0", "ao1"], ao_uA_per_V=[100.0, 100.0],
                    block_samples=1000, speed=200.0)
    dev.write(0, np.zeros((2, 6000)), np.zeros((0, 6000), np.uint8))
    dev.start()
    dev.read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    time.sleep(3.0)  # 600 s of samples behind at 200×; one call over them would need ≈ 0.5 GB
    blk = dev.read()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert blk.gap <= MAX_CATCH_UP_BUFFERS * dev.buffer_samples
    assert grown_mb < 150, grown_mb


def test_isolated_overflows_are_gaps_persistent_ones_are_starvation():
    st = Starvation(20000.0)
    ok, lost = Block(0, np.zeros((1, 10))), Block(0, np.zeros((1, 10)), gap=20000)
    for _ in range(50):  # a stall now and then: recorded as a gap, the run goes on
        assert st.on_read(lost) is None
        for _ in range(20):
            assert st.on_read(ok) is None
    st = Starvation(20000.0)
    said = [st.on_read(lost) for _ in range(STARVED_IN_A_ROW)]
    assert said[:-1] == [None] * (STARVED_IN_A_ROW - 1)
    assert said[-1].startswith("starved: 3 board reads in a row lost samples (3.0 s lost")
    st = Starvation(20000.0)  # every other read gapped: starved too
    out = [st.on_read(lost if k % 2 else ok) for k in range(20)]
    assert out[-1] is not None and "10 of the last 20 board reads" in out[-1]


class Behind(SimDevice):
    """Every read after the first loses a second of samples (a program that cannot keep up)."""

    def read(self):
        blk = super().read()
        return blk if blk.start == 0 else Block(blk.start, blk.data, 20000, blk.counts, blk.lsb_V)


def test_a_starved_board_stops_every_site_with_the_reason():
    slices = [Counting(), Counting()]
    maps = [SiteMap(ai=(k,), ao=(k,), offset=0) for k in range(2)]
    dev = Behind(MultiSlice(slices, [SliceWiring(m.ao, m.do, m.ai, 0) for m in maps], 2),
                 ai_channels=["ai0", "ai1"], ao_channels=["ao0", "ao1"], block_samples=100, speed=None)
    shared = SharedDevice(dev, maps)
    errors = {}

    def site(v, k):
        v.write(0, np.zeros((1, 100_000)), np.zeros((0, 100_000), np.uint8))
        v.start()
        try:
            for _ in range(10):
                v.read()
        except DeviceError as exc:
            errors[k] = exc

    ts = [threading.Thread(target=site, args=(v, k)) for k, v in enumerate(shared.views)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert sorted(errors) == [0, 1]
    assert isinstance(shared.error, BoardStarved)
    assert all("board failed: starved: 3 board reads in a row" in str(e) for e in errors.values())
    with pytest.raises(DeviceError, match="starved"):
        shared.views[0].read()
