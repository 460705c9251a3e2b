"""The slice's background (noise, pickup, drift) computed ahead on a worker thread (``--speed max``).

The background is a pure function of the absolute sample index and of the noise filter's state
(:func:`drivers.sim.waveform.synth_noise`): it does not depend on what is stimulated. When the
simulated DAQ runs as fast as possible it is computed on a second thread, in chunks on the
pickup oscillator's restart grid, while the engine's thread handles the samples already read;
:meth:`BackgroundAhead.take` hands out the very numbers one call of the kernel would have made
(the jitted kernel releases the GIL). Paced runs never use it.

Chunks start small and grow (a short run computes little it does not need), and a chunk must be
long enough that the worker's hand-overs, which need the GIL, are rare.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

import numpy as np

FIRST_BLOCKS = 10  # the first chunk: this many oscillator blocks (resync grid), then doubling …
MAX_CHUNK = 1 << 20  # … up to about this many samples per chunk
DEPTH = 3  # chunks computed ahead of the reader at most


class BackgroundAhead:
    """A worker thread filling chunks of background ahead of the reader.

    ``fill(start, out, lp_state, ys)`` computes ``out`` (n_ai, n) for [start, start + n) from the
    filter state ``lp_state`` (updated in place) and writes the state before each block of the
    grid into ``ys`` (n_ai, n // resync). ``start`` is on the grid (a multiple of ``resync``).
    """

    def __init__(self, fill: Callable, n_ai: int, start: int, resync: int, lp_state: np.ndarray) -> None:
        if resync <= 0 or start % resync:
            raise ValueError("the background is computed ahead only on the oscillator's block grid")
        self._fill = fill
        self.n_ai = n_ai
        self.resync = resync
        self.position = start  # the reader's next sample
        self._made = start  # the worker's next sample
        self._lp = np.array(lp_state, dtype=np.float64)
        self._chunk = FIRST_BLOCKS * resync
        self._max = max(resync, MAX_CHUNK // resync * resync)
        self._ready: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._free: list[np.ndarray] = []
        self._held: np.ndarray | None = None  # a used-up chunk the reader still holds a view of
        self._cv = threading.Condition()
        self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sim-background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._cv:
                    while not self._stop and len(self._ready) >= DEPTH:
                        self._cv.wait()
                    if self._stop:
                        return
                    n = self._chunk
                    self._chunk = min(2 * n, self._max)
                    self._free = [b for b in self._free if b.shape[1] >= n]  # chunks only grow
                    buf = next((b for b in self._free if b.shape[1] == n), None)
                    if buf is not None:
                        self._free.remove(buf)
                start = self._made
                if buf is None:
                    buf = np.empty((self.n_ai, n))
                ys = np.empty((self.n_ai, n // self.resync))
                self._fill(start, buf, self._lp, ys)  # the GIL is released while the kernel runs
                with self._cv:
                    self._ready.append((start, buf, ys, self._lp.copy()))
                    self._made = start + n
                    self._cv.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            with self._cv:
                self._error = exc
                self._cv.notify_all()

    def view(self, start: int, n: int, lp_state: np.ndarray) -> np.ndarray | None:
        """The background of [start, start + n) as a writable view of the worker's chunk, without a
        copy, when it lies in one chunk (else None: :meth:`take` it). Valid, and the reader's to
        change in place, until its next :meth:`view` or :meth:`take`; ``lp_state`` as for :meth:`take`."""
        if start != self.position:
            raise ValueError(f"background ahead: read at {start}, expected {self.position}")
        self._release()
        with self._cv:
            s, buf, ys, y_end = self._first_ready()
            a, b = start - s, start - s + n
            if b > buf.shape[1]:
                return None
            if b == buf.shape[1]:  # the chunk is used up: the worker may refill it after the next call
                lp_state[:] = y_end
                self._ready.popleft()
                self._held = buf
                self._cv.notify_all()
            else:
                lp_state[:] = ys[:, b // self.resync]
        self.position = start + n
        return buf[:, a:b]

    def _first_ready(self) -> tuple:
        """The oldest computed chunk (start, buffer, filter states, end state); waits for it. Called
        with ``self._cv`` held."""
        while not self._ready and self._error is None:
            self._cv.wait()
        if self._error is not None:
            raise RuntimeError("the simulated slice's background thread failed") from self._error
        return self._ready[0]

    def _release(self) -> None:
        """The chunk a :meth:`view` handed out last goes back to the worker."""
        if self._held is not None:
            with self._cv:
                self._free.append(self._held)
                self._held = None
                self._cv.notify_all()

    def take(self, start: int, out: np.ndarray, lp_state: np.ndarray) -> None:
        """Copy the background of [start, start + n) into ``out`` (n_ai, n); ``start`` must be
        :attr:`position` and end on the grid. ``lp_state`` becomes the filter state after it."""
        if start != self.position:
            raise ValueError(f"background ahead: read at {start}, expected {self.position}")
        self._release()
        end = start + out.shape[1]
        pos = start
        while pos < end:
            with self._cv:
                s, buf, ys, y_end = self._first_ready()
            n = buf.shape[1]
            a, b = pos - s, min(n, end - s)
            out[:, pos - start : pos - start + b - a] = buf[:, a:b]
            pos = s + b
            if b == n:
                lp_state[:] = y_end
                with self._cv:
                    self._ready.popleft()
                    self._free.append(buf)
                    self._cv.notify_all()
            else:
                lp_state[:] = ys[:, b // self.resync]
        self.position = end

    def stop(self) -> None:
        """End the worker (it is never left running: a daemon thread, stopped here or at exit)."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
