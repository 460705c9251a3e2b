"""The slice's background computed ahead on a worker thread (drivers/sim/background.py, issue 20)
gives the very samples computed in the reader's thread, and the simulated DAQ uses it only unpaced."""

from __future__ import annotations

import numpy as np

from drivers.sim.device import SimDevice
from drivers.sim.slice import make_slice

FS, BLOCK = 20000.0, 2000


def _stimulus(n: int) -> tuple[np.ndarray, np.ndarray]:
    stim = np.zeros((2, n))
    for s in range(1500, n, 37130):  # pulses anywhere, some across block boundaries
        stim[(s // 37130) % 2, s:s + 3] = 120.0
    stim[0, 2 * BLOCK - 1:2 * BLOCK + 1] = 200.0
    ttl = np.zeros((1, n), dtype=np.uint8)
    ttl[0, 300_000:610_000] = 1
    return stim, ttl


def _slice():
    sl = make_slice(FS, 2, 7, valves=((0, "DHPG", 50.0),))
    sl.resync_samples = BLOCK
    return sl


def test_the_background_ahead_gives_the_samples_of_the_reader_thread():
    reads = [1, 3, 50, 7, 200, 1, 400, 13, 60]  # blocks per call: across the worker's growing chunks
    n = BLOCK * sum(reads)
    stim, ttl = _stimulus(n)
    ahead, here = _slice(), _slice()
    ahead.compute_ahead(True)
    got, want, pos = [], [], 0
    try:
        for k in reads:
            m = k * BLOCK
            got.append(ahead.respond(pos, stim[:, pos:pos + m], ttl[:, pos:pos + m]).copy())
            want.append(here.respond(pos, stim[:, pos:pos + m], ttl[:, pos:pos + m]))
            pos += m
        assert ahead._ahead is not None  # it did compute ahead
    finally:
        ahead.compute_ahead(False)
    assert np.array_equal(np.concatenate(got, axis=1), np.concatenate(want, axis=1))
    assert np.array_equal(ahead._lp_state, here._lp_state)
    assert ahead.pulses_delivered == here.pulses_delivered > 10


def test_calls_off_the_block_grid_fall_back_to_the_reader_thread_exactly():
    n = BLOCK * 40
    stim, ttl = _stimulus(n)
    ahead, here = _slice(), _slice()
    ahead.compute_ahead(True)
    cuts = [0, 2 * BLOCK, 5 * BLOCK, 5 * BLOCK + 700, 9 * BLOCK, n]  # one call not a whole number of blocks
    try:
        got = [ahead.respond(a, stim[:, a:b], ttl[:, a:b]).copy() for a, b in zip(cuts, cuts[1:], strict=False)]
        assert ahead._ahead is not None and ahead._ahead.position == n  # stopped at the odd calls, back on the grid
    finally:
        ahead.compute_ahead(False)
    want = [here.respond(a, stim[:, a:b], ttl[:, a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert np.array_equal(np.concatenate(got, axis=1), np.concatenate(want, axis=1))


def test_only_an_unpaced_device_computes_ahead_and_stop_ends_the_worker():
    for speed, expect in ((None, True), (20.0, False)):
        sl = make_slice(FS, 1, 1)
        dev = SimDevice(sl, speed=speed, block_samples=BLOCK)
        dev.start()
        try:
            dev.read()
            assert (sl._ahead is not None) is expect
        finally:
            dev.stop()
        assert sl._ahead is None and not sl._ahead_wanted
