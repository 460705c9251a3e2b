"""One device, many recording sites: a demultiplexer that gives each site's engine its own view.

A multi-slice rig has one board and one sample clock. Each site (slice) runs its own engine on a
:class:`SiteView`, a :class:`drivers.base.Device` that shows only the site's AI channels and
stimulus outputs, on a time base shifted by the site's start ``offset``: the view's sample 0 is
the board's sample ``offset``. A site's engine therefore sees exactly what it would see as the
only slice on a board started ``offset`` samples later.

* Reads: the board is read one block at a time, in lockstep — the next block is read only when
  every running site has taken the previous one and asks for more (the slowest site paces the
  reads; the board's host buffer absorbs the difference, as for one slice). ``offset`` must be a
  multiple of the board's block, so a site's blocks are the board's blocks.
* Writes: each site writes its own outputs ahead; the board is written as far as every running
  site has written (a site that has not started yet, or has stopped, contributes 0 V / LOW).
* A site that stops (end of its plan, an alarm, an error) drives its outputs to 0 V / LOW from the
  first sample not yet handed to the board, and — where the board supports it
  (``zero_channels``, the simulator) — in what was already written ahead; the other sites run on.
* A starved program (the board keeps overflowing: :data:`STARVED_IN_A_ROW` reads in a row, or
  :data:`STARVED_OF_LAST` of the last :data:`STARVED_WINDOW` reads, lost samples) is a board error,
  :class:`BoardStarved`: every site stops with its complete sweeps instead of recording gaps for ever.
  One overflow now and then (a stall) is recorded as a gap and the run goes on.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from drivers.base import Block, Device, DeviceError, OutputUnderflowError

STARVED_IN_A_ROW = 3  # board reads in a row that lost samples: the program cannot keep up
STARVED_OF_LAST, STARVED_WINDOW = 10, 100  # … or this many of the last reads


class BoardStarved(DeviceError):
    """The board keeps losing samples: the program cannot keep up with its clock."""


class Starvation:
    """Counts the board reads that lost samples; :meth:`on_read` says when the program is starved."""

    def __init__(self, sample_rate_hz: float) -> None:
        self.fs = float(sample_rate_hz)
        self.in_a_row = 0
        self.recent: deque[int] = deque(maxlen=STARVED_WINDOW)  # lost samples of each of the last reads
        self.lost = 0

    def on_read(self, blk: Block) -> str | None:
        """The reason the program is starved after this read, or None."""
        self.recent.append(int(blk.gap))
        self.lost += int(blk.gap)
        self.in_a_row = self.in_a_row + 1 if blk.gap else 0
        gapped = sum(1 for g in self.recent if g)
        if self.in_a_row < STARVED_IN_A_ROW and gapped < STARVED_OF_LAST:
            return None
        what = (f"{self.in_a_row} board reads in a row" if self.in_a_row >= STARVED_IN_A_ROW
                else f"{gapped} of the last {len(self.recent)} board reads")
        return (f"starved: {what} lost samples ({sum(self.recent) / self.fs:.1f} s lost in those reads, "
                f"{self.lost / self.fs:.1f} s in all) — the program cannot keep up with the board's clock")


@dataclass(frozen=True)
class SiteMap:
    """Where a site lives on the board: indices of its AI channels, AO channels and DO lines
    (board order), and its start ``offset`` in board samples."""

    ai: tuple[int, ...]
    ao: tuple[int, ...] = ()
    do: tuple[int, ...] = ()
    offset: int = 0


class SharedDevice:
    """Owns the board; hands out one :class:`SiteView` per site (``views``)."""

    def __init__(self, device: Device, sites: list[SiteMap]) -> None:
        n = device.block_samples
        for s in sites:
            if s.offset % n:
                raise ValueError(f"site offset {s.offset} is not a multiple of the device block ({n} samples)")
        self.device = device
        self.cv = threading.Condition()
        self.views = [SiteView(self, k, s) for k, s in enumerate(sites)]
        self._blocks: deque[Block] = deque()
        self._first_seq = 0  # sequence number of _blocks[0]
        self._reading = False
        self._started = False
        self.error: BaseException | None = None
        self.underflow: OutputUnderflowError | None = None
        self._underflow_told: set[int] = set()
        self.starvation = Starvation(device.sample_rate_hz)

    # -- reads -------------------------------------------------------------------------------
    @property
    def _end_seq(self) -> int:
        return self._first_seq + len(self._blocks)

    def _running(self) -> list[SiteView]:
        return [v for v in self.views if not v.stopped]

    def _trim(self) -> None:
        keep = min((v.seq for v in self._running()), default=self._end_seq)
        while self._blocks and self._first_seq < keep:
            self._blocks.popleft()
            self._first_seq += 1

    def _read_for(self, view: SiteView) -> Block:
        with self.cv:
            while True:
                if view.stopped:
                    raise DeviceError("read on a stopped site")
                if self.error is not None:
                    raise DeviceError(f"board failed: {self.error}") from self.error
                while view.seq < self._end_seq:
                    blk = self._blocks[view.seq - self._first_seq]
                    view.seq += 1
                    n = blk.data.shape[1]
                    if blk.start + n <= view.map.offset:  # before this site starts
                        continue
                    local = blk.start - view.map.offset
                    gap = max(0, local - view.pos)
                    view.pos = local + n
                    view.waiting = False
                    self._trim()
                    return Block(local, blk.data[list(view.map.ai)], gap)
                view.waiting = True
                # lockstep: every running site has taken every block read so far and asks for more
                ready = self._started and all(v.waiting and v.seq >= self._end_seq for v in self._running())
                if self._reading or not ready:
                    self.cv.wait(0.5)
                    continue
                self._reading = True
                self.cv.release()
                try:
                    blk = self.device.read()
                except BaseException as exc:
                    self.cv.acquire()
                    self.error = exc
                    self._reading = False
                    self.cv.notify_all()
                    raise
                self.cv.acquire()
                self._reading = False
                starved = self.starvation.on_read(blk)
                if starved is not None:
                    self.error = BoardStarved(starved)
                    self.cv.notify_all()
                    continue  # every site (this one first) raises the board's error
                self._blocks.append(blk)
                self.cv.notify_all()

    def _start_for(self, view: SiteView) -> None:
        with self.cv:
            view.started = True
            if not self._started and all(v.started or v.stopped for v in self.views):
                self._start_board()
            self.cv.notify_all()

    def _start_board(self) -> None:
        """Write what every site has written and start the clock; a failure reaches every site.
        Caller holds ``cv``."""
        try:
            self._forward()
            self.device.start()
        except BaseException as exc:
            self.error = exc
            self.cv.notify_all()
            raise
        self._started = True

    # -- writes ------------------------------------------------------------------------------
    def _forward(self) -> None:
        """Write the board as far as every running site has written. Caller holds ``cv``."""
        dev = self.device
        running = self._running()
        if not running:
            return
        target = min(v.written_until + v.map.offset for v in running)
        w = dev.written_until
        if target <= w:
            return
        n = target - w
        ao = np.zeros((len(dev.ao_channels), n))
        do = np.zeros((len(dev.do_lines), n), dtype=np.uint8)
        for v in running:
            v.take(w, target, ao, do)
        try:
            dev.write(w, ao, do)
        except OutputUnderflowError as exc:
            self.underflow = exc

    def _write_for(self, view: SiteView, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        with self.cv:
            if self.underflow is not None and view.index not in self._underflow_told:
                self._underflow_told.add(view.index)
                raise self.underflow
            view.queue_write(start, ao_V, do)
            self._forward()
            if self.underflow is not None and view.index not in self._underflow_told:
                self._underflow_told.add(view.index)
                raise self.underflow

    def _zero_for(self, view: SiteView) -> None:
        with self.cv:
            view.drop_queued()
            zero = getattr(self.device, "zero_channels", None)
            if self._started and zero is not None:
                zero(list(view.map.ao), list(view.map.do))

    def _stop_for(self, view: SiteView) -> None:
        with self.cv:
            if view.stopped:
                return
            view.drop_queued()
            view.stopped = True
            zero = getattr(self.device, "zero_channels", None)
            if self._started and zero is not None:
                zero(list(view.map.ao), list(view.map.do))
            if not self._started and all(v.started or v.stopped for v in self.views) and self._running():
                try:
                    self._start_board()
                except BaseException:  # noqa: BLE001 - on a site's exit path; the error reaches the others
                    pass
            self._forward()
            self._trim()
            self.cv.notify_all()

    def close(self) -> None:
        """Stop every site, then release the board (every output zeroed)."""
        for v in self.views:
            v.stopped = True
        self.device.close()


class SiteView(Device):
    """One site's view of the shared board (a :class:`drivers.base.Device`)."""

    def __init__(self, shared: SharedDevice, index: int, site: SiteMap) -> None:
        dev = shared.device
        self.shared, self.index, self.map = shared, index, site
        self.sample_rate_hz = dev.sample_rate_hz
        self.ai_channels = [dev.ai_channels[i] for i in site.ai]
        self.ao_channels = [dev.ao_channels[i] for i in site.ao]
        self.do_lines = [dev.do_lines[i] for i in site.do]
        self.block_samples = dev.block_samples
        self.seq = 0  # next board block to look at
        self.pos = 0  # next local sample expected
        self.waiting = False
        self.started = False
        self.stopped = False
        self._written_until = 0
        self._queue: deque[tuple[int, np.ndarray, np.ndarray]] = deque()  # (board start, ao, do)

    # -- Device ------------------------------------------------------------------------------
    @property
    def written_until(self) -> int:
        return self._written_until

    def start(self) -> None:
        self.shared._start_for(self)

    def read(self) -> Block:
        return self.shared._read_for(self)

    def write(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        self.shared._write_for(self, start, ao_V, do)

    def zero_outputs(self) -> None:
        self.shared._zero_for(self)

    def stop(self) -> None:
        self.shared._stop_for(self)

    def close(self) -> None:
        self.stop()

    # -- used by SharedDevice (under its lock) ------------------------------------------------
    def queue_write(self, start: int, ao_V: np.ndarray, do: np.ndarray) -> None:
        if start != self._written_until:
            raise DeviceError(f"non-contiguous output write at sample {start}, expected {self._written_until}")
        ao_V = np.asarray(ao_V, dtype=float)
        do = np.asarray(do, dtype=np.uint8)
        if ao_V.shape[0] != len(self.map.ao) or do.shape[0] != len(self.map.do):
            raise DeviceError("output block has the wrong number of channels")
        n = ao_V.shape[1]
        if not self.stopped:
            self._queue.append((start + self.map.offset, ao_V, do))
        self._written_until = start + n

    def take(self, begin: int, end: int, ao: np.ndarray, do: np.ndarray) -> None:
        """Copy this site's outputs for board samples [begin, end) into its rows; forget them."""
        rows_ao, rows_do = list(self.map.ao), list(self.map.do)
        while self._queue:
            s, a, d = self._queue[0]
            e = s + a.shape[1]
            lo, hi = max(s, begin), min(e, end)
            if lo < hi:
                if rows_ao:
                    ao[rows_ao, lo - begin:hi - begin] = a[:, lo - s:hi - s]
                if rows_do:
                    do[rows_do, lo - begin:hi - begin] = d[:, lo - s:hi - s]
            if e <= end:
                self._queue.popleft()
            else:
                break

    def drop_queued(self) -> None:
        self._queue.clear()
        self._written_until = max(self._written_until, self.pos)
