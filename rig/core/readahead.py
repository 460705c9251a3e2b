"""Reading ahead at ``--speed max``: how many device blocks one read may fold, and outputs at rest.

On a device that is not paced by a clock the engine may read many blocks at once, as long as
the blocks before the last are *quiet*: the loop would have done nothing in them but acquire (the
scheduler hands out nothing, no sweep is measured or cut, the plan does not end). Then every
document and decision falls on the same sample, and the device produces the same samples, as
block by block (``tests/pipeline/test_read_ahead.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

RING_S = 10.0  # the engine's ring buffer, in seconds of samples …
RING_AHEAD_S = 60.0  # … and on a device read ahead (one read takes at most half of it)


def ring_samples(device: Any, fs: float, least: int) -> int:
    """Length of the engine's ring: 10 s (a paced device), 60 s where reads fold many blocks (fewer,
    longer reads), and at least twice ``least`` (a sweep, the horizon and two blocks)."""
    ahead = getattr(device, "max_read_blocks", 1) > 1
    return max(int((RING_AHEAD_S if ahead else RING_S) * fs), 2 * least)


def fold_blocks(most: int, block: int, acquired: int, written: int, quiet_until: int,
                due: Iterable[int], finished_at: int | None) -> int:
    """Blocks the next read may take (1 … ``most``).

    Block *j* of the read (1-based) ends at ``acquired + j·block``; the loop iteration after it
    writes outputs up to ``written + j·block``, which stays quiet while that is ≤ ``quiet_until``
    (the scheduler's). ``due``: samples whose arrival the loop acts on (a sweep's analysis point
    and its end); the read ends with the block that completes the first of them, or the plan's
    end (``finished_at``).
    """
    k = min(most, 1 + (quiet_until - written) // block)
    for x in due:
        k = min(k, -(-(x - acquired) // block))
    if finished_at is not None:
        k = min(k, -(-(finished_at - acquired) // block))
    return max(1, k)


class ReadAhead:
    """Mixin of :class:`rig.engine.Engine`: its next device read (uses the engine's run state)."""

    dev: Any
    ctl: Any
    delivery: Any
    stats: Any
    acquired_until: int
    read_ahead_blocks: int  # the most one read may fold (1: a paced device)
    _pending: list

    def _analysis_tail(self) -> int: ...

    def _write_ahead(self, target: int, span: int | None = None) -> None: ...

    def _catch_up(self, w: int, n: int, target: int) -> int:
        """Samples of the next output write from ``w`` when [w, w + n) was acquired already (a gap):
        the quiet part of that stretch at once (up to 100 blocks, as read-only zero views), else ``n``."""
        quiet = getattr(self.ctl, "quiet_until", None)
        end = min(target, self.acquired_until, quiet() if quiet else 0, w + 100 * n)
        return max(n, end - w)

    def _read(self) -> Any:
        """The next block, or (unpaced device) every block up to the first one after which the loop
        acts; the outputs of the blocks before that one are written first, in one scheduler call."""
        self.stats.reads += 1
        quiet = getattr(self.ctl, "quiet_until", None)
        if self.read_ahead_blocks < 2 or quiet is None or self.delivery.busy or self.ctl.stop_request is not None:
            return self.dev.read()
        b, tail = self.dev.block_samples, self._analysis_tail()
        due = [p.end for p in self._pending]  # a sweep is cut, and decided on, when these samples are in
        due += [min(p.end, p.stim.sample + p.stim.pulse_offsets[-1] + tail) for p in self._pending if p.early is None]
        k = fold_blocks(self.read_ahead_blocks, b, self.acquired_until, self.dev.written_until, quiet(), due,
                        self.ctl.finished_at)
        if k > 1:
            self._write_ahead(self.dev.written_until + (k - 1) * b, span=(k - 1) * b)
        return self.dev.read_blocks(k)
