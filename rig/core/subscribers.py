"""The two kinds of subscribers to a run's stream of documents.

*Critical* sinks (storage) get every document first; an exception in one propagates, so the
engine stops the run safely (outputs zeroed, reason ``error``, completed sweeps on disk).
*Observers* (display feed, progress, control endpoint, user subscribers) get it next; an
exception in one is caught, logged, and recorded as an ``observer_error`` event — at most one
per observer per ``report_every_samples`` (with the number of failures since the last one), so a
failing observer cannot flood the file — and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rig.core.events import ObserverError

Subscriber = Callable[[object], None]
log = logging.getLogger(__name__)


@dataclass
class _Observer:
    fn: Subscriber
    name: str
    failures: int = 0
    unreported: int = 0
    reported_at: int | None = None  # sample of the last observer_error event
    last_error: str = ""


def subscriber_name(fn: object) -> str:
    """A readable name for a subscriber (its class, function or bound method)."""
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        return f"{type(owner).__name__}.{getattr(fn, '__name__', '?')}"
    return getattr(fn, "__qualname__", None) or type(fn).__name__


class Fanout:
    """Delivers documents to critical sinks, then observers; ``now`` gives the current sample.

    ``derived``: functions ``fn(doc) -> documents`` whose documents follow ``doc`` through the same
    fanout, right after it (MEA mode: every electrode's measurements of a sweep follow the sweep,
    :mod:`rig.experiment.mea_run`). A derived function fails like a critical sink."""

    def __init__(self, critical: Iterable[Subscriber], observers: Iterable[Subscriber],
                 now: Callable[[], int], report_every_samples: int) -> None:
        self.critical = list(critical)
        self.observers = [_Observer(fn, subscriber_name(fn)) for fn in observers]
        self.derived: list[Callable[[object], Iterable[object]]] = []
        self._now = now
        self._every = max(1, int(report_every_samples))
        self._reporting = False

    def emit(self, doc: object) -> None:
        for sub in self.critical:
            sub(doc)
        self._notify(doc)
        for fn in self.derived:
            for d in fn(doc):
                self.emit(d)

    def emit_safely(self, doc: object) -> None:
        """On the exit path: a failing critical sink must not stop the others."""
        for sub in self.critical:
            try:
                sub(doc)
            except Exception:  # noqa: BLE001 - the original error is already propagating
                pass
        self._notify(doc)

    def report_pending(self) -> None:
        """At the end of a run: record the observer failures not reported yet."""
        for ob in self.observers:
            try:
                self._report(ob, final=True)
            except Exception:  # noqa: BLE001 - a critical sink failing here is already reported
                pass

    def failures(self) -> dict[str, int]:
        """Failures per observer name (those that failed at least once)."""
        return {ob.name: ob.failures for ob in self.observers if ob.failures}

    def _notify(self, doc: object) -> None:
        for ob in self.observers:
            try:
                ob.fn(doc)
            except Exception as exc:  # noqa: BLE001 - an observer never stops the run
                ob.failures += 1
                ob.unreported += 1
                ob.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200] if str(exc) else type(exc).__name__
                if ob.failures == 1:
                    log.warning("observer %s failed: %s", ob.name, ob.last_error)
                self._report(ob, final=False)

    def _report(self, ob: _Observer, *, final: bool) -> None:
        now = self._now()
        due = ob.reported_at is None or now - ob.reported_at >= self._every
        if self._reporting or ob.unreported == 0 or not (due or final):
            return
        self._reporting = True  # an observer failing on this event too is only counted
        try:
            ev = ObserverError(sample=now, text=f"observer {ob.name} failed ({ob.unreported}×): {ob.last_error}",
                               observer=ob.name, failures=ob.unreported, total_failures=ob.failures)
            ob.reported_at, ob.unreported = now, 0
            self.emit(ev)
        finally:
            self._reporting = False
