"""The background computed ahead is handed out without a copy (``BackgroundAhead.view``, issue 20):
a view covers one chunk, stays intact while the worker fills the chunks after it, and the chunk
is recycled only after the reader's next call."""

from __future__ import annotations

import numpy as np

from drivers.sim.background import DEPTH, FIRST_BLOCKS, BackgroundAhead

GRID = 100


def _fill(start: int, out: np.ndarray, lp: np.ndarray, ys: np.ndarray) -> None:
    """A known background: sample index + the filter state, which counts the samples made."""
    n = out.shape[1]
    out[:] = np.arange(start, start + n, dtype=float)[None, :] + 0.5
    ys[:] = lp[:, None] + np.arange(0, n, GRID)[None, :]
    lp += n


def _wait_full(ahead: BackgroundAhead) -> None:
    """Block until the worker has filled every chunk it may (a condition, not a time)."""
    with ahead._cv:
        assert ahead._cv.wait_for(lambda: len(ahead._ready) >= DEPTH or ahead._error is not None, timeout=30.0)


def test_views_are_the_background_and_stay_intact_until_the_next_call():
    ahead = BackgroundAhead(_fill, 1, 0, GRID, np.zeros(1))
    try:
        lp = np.zeros(1)
        pos, sizes, copied = 0, [], 0
        for n in (GRID, 3 * GRID, (FIRST_BLOCKS - 4) * GRID, 5 * GRID, 7 * GRID, 20 * GRID, 40 * GRID):
            v = ahead.view(pos, n, lp)
            if v is None:  # across two chunks: copied
                v = np.empty((1, n))
                ahead.take(pos, v, lp)
                copied += 1
            else:
                _wait_full(ahead)  # the worker has run ahead (chunks freed earlier may be refilled)
                sizes.append(n)
            assert np.array_equal(v[0], np.arange(pos, pos + n) + 0.5)
            v += 1e6  # the reader may change it in place (the slice adds its waves)
            pos += n
            assert lp[0] == pos  # the filter state after the samples handed out
        assert sizes and copied  # both paths ran
    finally:
        ahead.stop()


def test_a_chunk_used_up_by_a_view_is_recycled_only_at_the_next_call():
    ahead = BackgroundAhead(_fill, 1, 0, GRID, np.zeros(1))
    try:
        lp = np.zeros(1)
        first = FIRST_BLOCKS * GRID  # exactly the first chunk
        v = ahead.view(0, first, lp)
        assert v is not None
        _wait_full(ahead)
        assert ahead._held is not None and not any(b is ahead._held for b in ahead._free)
        ahead.view(first, GRID, lp)
        assert ahead._held is None and any(np.shares_memory(b, v) for b in ahead._free)
    finally:
        ahead.stop()
