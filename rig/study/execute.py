"""Run the slices of a study serially or on a Dask cluster (``dask.distributed``), with a progress
bar on stderr. A slice whose worker dies is rescheduled by the scheduler on another worker (its
``allowed-failures`` retries); nothing else is lost. Results come back in the order of the jobs,
so serial and distributed runs of the same seeds give the same table.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rig.core.errors import RunFailure, UserError


class ProgressBar:
    """``[#####.....] 12/40 slices  30 s`` on one line of stderr (a plain line per 10 % when not a tty)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, unit: str = "slices") -> None:
        self.total, self.label, self.stream, self.unit = max(1, total), label, stream or sys.stderr, unit
        self.t0 = time.perf_counter()
        self.done = 0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_decile = -1

    def step(self, k: int = 1) -> None:
        self.done += k
        frac = self.done / self.total
        bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
        line = f"{self.label} [{bar}] {self.done}/{self.total} {self.unit}  {time.perf_counter() - self.t0:.0f} s"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if self.done >= self.total else ""))
        elif int(frac * 10) != self._last_decile or self.done >= self.total:
            self._last_decile = int(frac * 10)
            self.stream.write(line + "\n")
        self.stream.flush()


def run_serial(fn: Callable[[Any], Any], jobs: Sequence[Any], label: str = "serial") -> list[Any]:
    """Every job in this process, in order."""
    bar = ProgressBar(len(jobs), label)
    out = []
    for j in jobs:
        out.append(fn(j))
        bar.step()
    return out


def local_cluster(n_workers: int | None = None):
    """A ``LocalCluster`` over this machine's cores: one process per worker, one thread each (the
    simulation is CPU-bound Python; processes avoid the GIL)."""
    from dask.distributed import LocalCluster

    n = n_workers or os.cpu_count() or 1
    return LocalCluster(n_workers=n, processes=True, threads_per_worker=1, dashboard_address=None)


def run_dask(fn: Callable[[Any], Any], jobs: Sequence[Any], client: Any, label: str = "dask") -> list[Any]:
    """Every job on the cluster of ``client``; the results in job order. A job that raises stops
    the study (its error is re-raised); a worker that dies has its jobs rescheduled."""
    from dask.distributed import as_completed

    futures = client.map(fn, list(jobs), pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    out: list[Any] = [None] * len(futures)
    bar = ProgressBar(len(futures), label)
    try:
        for fut in as_completed(futures):
            out[index[fut.key]] = fut.result()  # raises the job's own exception
            bar.step()
    except (UserError, RunFailure):
        client.cancel(futures)
        raise
    except Exception as exc:  # a KilledWorker after every retry: the cluster itself is failing
        client.cancel(futures)
        if type(exc).__name__ == "KilledWorker":
            raise RunFailure(f"dask: a slice killed its worker on every try ({exc})") from None
        raise
    return out


def connect(scheduler: str | None, n_workers: int | None = None):
    """(client, cluster or None): ``tcp://HOST:PORT`` connects to a lab's scheduler; None starts a
    LocalCluster here. A scheduler that cannot be reached is a one-line RunFailure."""
    from dask.distributed import Client

    if scheduler:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise UserError(f"--scheduler {scheduler!r}: give an address like tcp://HOST:8786")
        try:
            return Client(scheduler, timeout="15s"), None
        except (OSError, TimeoutError) as exc:
            raise RunFailure(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    cluster = local_cluster(n_workers)
    return Client(cluster), cluster
