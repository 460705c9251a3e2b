"""The display feed: a subscriber that never blocks the engine and drops only display frames."""

import threading

import numpy as np

from rig.bench.synthetic_stream import ltp_stream
from rig.core.documents import Measured, Progress, Sweep
from rig.display.feed import DisplayFeed, SweepInfo
from rig.display.model import DisplayModel


def _docs(**kw):
    return list(ltp_stream(baseline_min=5, followup_min=10, **kw))


def test_full_queue_drops_frames_but_keeps_every_state_document():
    docs = _docs()
    feed = DisplayFeed(max_frames=4)
    for d in docs:  # nobody drains: the frame queue is full after 4
        feed(d)
    n_sweeps = sum(isinstance(d, Sweep) for d in docs)
    n_frames = n_sweeps + sum(isinstance(d, Progress) for d in docs)
    assert feed.dropped_frames == n_frames - 4
    assert feed.dropped_sweeps == n_sweeps - 2  # frames: sweep, progress, sweep, progress
    assert feed.dropped_state == 0
    got = feed.drain()
    infos = [d for d in got if isinstance(d, SweepInfo)]
    assert [i.index for i in infos] == list(range(n_sweeps))  # every header, in order
    assert sum(isinstance(d, Measured) for d in got) == n_sweeps
    # the time course built from a lossy feed equals the one built from everything
    lossy, full = DisplayModel(), DisplayModel()
    lossy.apply_all(got)
    full_feed = DisplayFeed(max_frames=10_000)
    for d in docs:
        full_feed(d)
    full.apply_all(full_feed.drain())
    for p in full.pathways:
        np.testing.assert_array_equal(lossy.time_course_xy(p)[1], full.time_course_xy(p)[1])
    assert lossy.n_sweeps == full.n_sweeps == n_sweeps


def test_state_queue_overflow_is_counted_not_raised():
    feed = DisplayFeed(max_frames=1, max_state=3)
    for d in _docs()[:50]:
        feed(d)
    assert feed.dropped_state > 0
    assert len(feed.drain()) == 3 + 1


def test_producer_thread_never_blocks_on_a_full_queue():
    """An engine thread pushing 20 000 documents into a feed nobody drains finishes."""
    feed = DisplayFeed(max_frames=2, max_state=100)
    docs = _docs(with_sweeps=True)
    done = threading.Event()

    def produce():
        for _ in range(20_000 // len(docs) + 1):
            for d in docs:
                feed(d)
        done.set()

    t = threading.Thread(target=produce, daemon=True)
    t.start()
    t.join(60)  # generous: only a blocked put would hang here
    assert done.is_set()
    assert feed.received >= 20_000
    assert feed.dropped_frames + feed.dropped_state > 0
