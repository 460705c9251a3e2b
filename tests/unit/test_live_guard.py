"""The shared table of every site's future stimuli (rig.closed_loop.live_guard.GuardBoard)."""

from __future__ import annotations

import numpy as np

from rig.closed_loop.live_guard import GuardBoard
from rig.protocol.load import expand, parse_protocol
from rig.protocol.rigfile import load_rig
from rig.protocol.site_guard import stimulus_intervals
from tests.conftest import baseline_toml

FS = 20_000
EMPTY = np.zeros((0, 2), dtype=np.int64)


def plans():
    rig, _ = load_rig(None)
    return [expand(parse_protocol(baseline_toml(5.0, 5.0), "p"), rig, "p") for _ in range(2)]


def board():
    a, b = plans()
    return GuardBoard(["A", "B"], [0, 2 * FS], [a, b], FS)  # B starts 2 s later; guard 1 s


def test_the_board_starts_with_the_planned_stimuli_at_each_offset():
    g = board()
    a, _ = plans()
    assert np.array_equal(g.future[0], stimulus_intervals(a))
    assert np.array_equal(g.future[1], stimulus_intervals(a) + 2 * FS)


def test_a_moved_stimulus_goes_to_the_first_time_that_keeps_the_guard():
    g = board()
    b = g.future[1]  # B tests every 5 s: at 23.02 s, 28.02 s, … on the board's clock
    train = np.array([[0, 2 * FS]], dtype=np.int64)  # a 2 s train, asked for at 22.5 s
    pl = g.place(0, int(22.5 * FS), train, lambda d: (EMPTY, EMPTY))
    start = int(22.5 * FS) + pl.delay
    before, after = b[b[:, 1] <= start][-1], b[b[:, 0] >= start][0]
    assert pl.delay > 0 and start - before[1] >= FS and after[0] - (start + 2 * FS) >= FS  # 1 s each side
    assert start - before[1] < FS + g.step  # the first such time
    assert g.future[0][0, 0] == start  # registered: the other sites avoid it from now on


def test_no_start_within_the_search_is_reported_and_a_refusal_moves_nothing():
    g = board()
    before = g.future[0].copy()
    never = np.array([[0, 70 * FS]], dtype=np.int64)  # longer than any gap in B's future within 60 s
    pl = g.place(0, 10 * FS, never, lambda d: (EMPTY, EMPTY), commit=False)
    assert pl.delay is None and pl.site == "B" and pl.gap is not None and pl.gap < 0
    assert np.array_equal(g.future[0], before)
    pl = g.place(0, 10 * FS, never, lambda d: (EMPTY, EMPTY))  # the closed loop's own move: recorded as is
    assert pl.delay is None and g.future[0][-1, 1] >= 80 * FS
