"""The guard interval between sites, kept while the sites run (multi-site runs).

``rig check`` / ``rig run`` choose start offsets so that the *planned* stimuli of different sites
keep ``site_guard_s`` apart (:mod:`rig.protocol.site_guard`). At run time a site's later stimuli
move: the operator's ``induce_now`` or ``extend_baseline``, a gated baseline that extends itself
or waits for a resume, an induction held by a pause. Each site therefore keeps its *future* —
every stimulus it will deliver if nothing else changes, on the board's clock — in a shared
:class:`GuardBoard`, and whenever its future moves it is **placed**: the moved stimuli start at
the first time, at most :data:`MAX_DELAY_S` later, that keeps the guard from every other site's
future. What a user at the rig expects:

* ``induce_now`` induces at once, or a moment later when another slice is being stimulated (the
  reply says when and why: "baseline ends in 1.4 s: keeps site_guard_s = 1 s from site B");
  ``extend_baseline`` extends by the seconds asked, or a little more. When no start within
  :data:`MAX_DELAY_S` keeps the guard, the command is **refused** with the reason (an ``operator``
  event with ``accepted = false``), and the run goes on as before.
* ``resume`` of a held induction delivers it at once or a moment later (the induction stays held
  until then). A gated baseline that extends itself, or ends after waiting for a resume, starts
  the next phase a moment later if needed. These are never refused: when no start within the
  search keeps the guard, the stimuli go as the run state says and a ``site_guard`` event with
  ``kept = false`` records it (never silent).
* Every delay is a ``site_guard`` event in the site's file (``delay_s``, ``cause``).
* ``pause`` alone moves nothing (test pulses are skipped, the clock goes on); ``intensity`` moves
  nothing.

The controller (:class:`~rig.closed_loop.controller.Controller`) holds an optional
:class:`LiveGuard` (``controller.guard``; None in a single-site run) and calls it through
:class:`GuardedTiming`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from rig.core import events as ev
from rig.protocol.site_guard import (
    _merge,
    as_intervals,
    closest_approach,
    feasible_steps,
    phase_intervals,
    stimulus_intervals,
)

MAX_DELAY_S = 60.0  # a moved stimulus starts at most this much later than asked
STEP_S = 0.01  # delays are multiples of this


@dataclass(frozen=True)
class Placement:
    """Where moved stimuli go: ``delay`` samples later than asked (None: no start within the
    search keeps the guard); ``site`` and ``gap`` name the closest other site when it is not kept."""

    delay: int | None
    site: str = ""
    gap: int | None = None


class GuardBoard:
    """The futures of every site of one run, on the board's clock (thread-safe)."""

    def __init__(self, names: list[str], offsets: list[int], plans: list, guard_samples: int) -> None:
        self.names, self.offsets, self.guard = list(names), list(offsets), int(guard_samples)
        self.fs = float(plans[0].sample_rate_hz)
        self.step = max(1, int(STEP_S * self.fs))
        self.max_m = int(MAX_DELAY_S * self.fs) // self.step
        self.lock = threading.Lock()
        self.future = [stimulus_intervals(p) + o for p, o in zip(plans, offsets, strict=True)]

    def seat(self, k: int) -> LiveGuard:
        return LiveGuard(self, k)

    def _others(self, k: int, after: int) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
        per = [(self.names[j], f[f[:, 1] > after]) for j, f in enumerate(self.future) if j != k]
        rows = [iv for _, iv in per if len(iv)]
        if not rows:
            return np.zeros((0, 2), dtype=np.int64), per
        both = np.concatenate(rows)
        return _merge(both[np.argsort(both[:, 0], kind="stable")]), per

    def place(self, k: int, base: int, shifted: np.ndarray, current, commit: bool = True) -> Placement:
        """Site ``k``'s future: ``shifted`` (intervals relative to ``base``, board samples) moves as a
        whole by the delay; ``current(delay)`` gives (the intervals that delay adds or creates, the
        site's other future intervals), board samples. The smallest delay whose moved and new
        stimuli keep the guard is registered and returned; when there is none, the undelayed
        future is registered only if ``commit`` (a refused command moves nothing)."""
        with self.lock:
            others, per = self._others(k, base - 2 * self.guard)
            ok = feasible_steps(others, shifted + base, self.guard, self.step, self.max_m)
            for m in ok[:4000]:
                d = int(m) * self.step
                new, rest = current(d)
                gap = closest_approach(others, new) if len(new) else None
                if gap is None or gap >= self.guard:
                    self._register(k, rest, shifted + base + d, new)
                    return Placement(d)
            new, rest = current(0)
            if commit:
                self._register(k, rest, shifted + base, new)
            site, gap = self._closest(per, np.concatenate([shifted + base, new]) if len(new) else shifted + base)
            return Placement(None, site, gap)

    def register(self, k: int, future: np.ndarray) -> None:
        with self.lock:
            self.future[k] = future

    def _register(self, k: int, *parts: np.ndarray) -> None:
        rows = [p for p in parts if len(p)]
        self.future[k] = as_intervals([tuple(r) for p in rows for r in p]) if rows else np.zeros((0, 2), np.int64)

    def _closest(self, per: list[tuple[str, np.ndarray]], iv: np.ndarray) -> tuple[str, int | None]:
        best: tuple[str, int | None] = ("", None)
        for name, f in per:
            g = closest_approach(f, as_intervals([tuple(r) for r in iv]))
            if g is not None and (best[1] is None or g < best[1]):
                best = (name, g)
        return best


class LiveGuard:
    """One site's seat on the :class:`GuardBoard`: its index and its offset on the board clock."""

    def __init__(self, board: GuardBoard, k: int) -> None:
        self.board, self.k, self.offset = board, k, board.offsets[k]

    @property
    def guard_s(self) -> float:
        return self.board.guard / self.board.fs

    def place(self, base: int, shifted: np.ndarray, current, commit: bool = True) -> Placement:
        """As :meth:`GuardBoard.place`, in this site's samples."""
        o = self.offset

        def cur(d: int) -> tuple[np.ndarray, np.ndarray]:
            new, rest = current(d)
            return new + o, rest + o

        return self.board.place(self.k, base + o, shifted, cur, commit)

    def register(self, future: np.ndarray) -> None:
        self.board.register(self.k, future + self.offset)


class GuardedTiming:
    """Mixin of the controller: its future stimuli as intervals, and their placement (see the
    module docstring). Uses the controller's plan, phase, ``phase_start``/``phase_end``,
    ``generated_until``."""

    guard: LiveGuard | None = None
    plan: Any
    fs: float
    phase_index: int
    phase_start: int
    phase_end: int
    generated_until: int
    _guard_end: int | None = None  # the phase end placed last (placing it again is not needed)
    _guard_hold_until: int = 0  # a released induction stays held until here
    _guard_released = False  # the held induction's release has been placed
    _guard_sig: tuple = ()
    _later_cache: tuple[int, np.ndarray] | None = None

    # -- the future, as intervals (site samples) ---------------------------------------------
    def _later(self) -> np.ndarray:
        """The phases after the current one at their planned length, relative to its end."""
        k = self.phase_index
        if self._later_cache is None or self._later_cache[0] != k:
            self._later_cache = (k, stimulus_intervals(self.plan, k + 1))
        return self._later_cache[1]

    def _current(self, a: int, b: int, shift: int = 0) -> np.ndarray:
        """Intervals of the current phase's stimuli with onset in [a, b) (absolute), ``shift`` later."""
        p0 = self.phase_start
        rows = phase_intervals(self.plan, self.plan.phases[self.phase_index], a - p0, b - p0)
        return as_intervals([(p0 + x + shift, p0 + y + shift) for x, y in rows])

    def _future(self) -> np.ndarray:
        g = self.generated_until
        held = max(0, self._guard_hold_until - g)  # a released induction held a moment longer: all of it later
        cur = self._current(g, self.phase_end, held)
        later = self._later() + self.phase_end + held
        return as_intervals([tuple(r) for r in (*cur, *later)])

    def _guard_register(self) -> None:
        """Keep the board's copy of this site's future up to date (after any change of timing)."""
        if self.guard is None or getattr(self, "finished_at", None) is not None:
            return
        sig = (self.phase_index, self.phase_start, self.phase_end, self._guard_hold_until)
        if sig != self._guard_sig:
            self._guard_sig = sig
            self.guard.register(self._future())

    # -- placements -------------------------------------------------------------------------
    def _place_end(self, end: int, new_from: int, commit: bool = True) -> Placement:
        """The current phase ending at ``end`` (+ delay): its stimuli from ``new_from`` on are new,
        the later phases move with its end."""
        g = self.generated_until

        def current(d: int) -> tuple[np.ndarray, np.ndarray]:
            return self._current(max(new_from, g), end + d), self._current(g, max(new_from, g))

        return self.guard.place(end, self._later(), current, commit)

    def _place_release(self) -> Placement:
        """A held induction released now (+ delay): its remaining stimuli and the later phases move."""
        g, p0, end = self.generated_until, self.phase_start, self.phase_end
        rows = phase_intervals(self.plan, self.plan.phases[self.phase_index], g - p0, end - p0)
        shifted = as_intervals([(p0 + x - g, p0 + y - g) for x, y in rows] +
                               [tuple(r) for r in self._later() + (end - g)])
        empty = np.zeros((0, 2), dtype=np.int64)
        return self.guard.place(g, shifted, lambda d: (empty, empty))

    def _guard_text(self, pl: Placement, what: str) -> str:
        gs = f"site_guard_s = {self.guard.guard_s:g} s"
        if pl.delay is None:
            gap = "" if pl.gap is None else " (they would overlap)" if pl.gap < 0 else \
                f" (they would be {pl.gap / self.fs:.2f} s apart)"
            return f"no start within {MAX_DELAY_S:g} s keeps {gs} from site {pl.site}'s stimuli{gap}"
        return f"{what} {pl.delay / self.fs:.2f} s later: keeps {gs} from the other sites' stimuli"

    def guard_command_end(self, end: int, new_from: int) -> tuple[int | None, str]:
        """For ``induce_now`` / ``extend_baseline``: the phase end to use (None: refused) and why it
        is later than asked ("" when it is not; the reason of the refusal when refused)."""
        if self.guard is None:
            return end, ""
        pl = self._place_end(end, new_from, commit=False)
        if pl.delay is None:
            return None, self._guard_text(pl, "")
        self._guard_end = end + pl.delay
        return end + pl.delay, self._guard_text(pl, "").lstrip() if pl.delay else ""

    def guard_phase_end(self, docs: list, cause: str) -> int:
        """At a phase end that goes on to the next phase: the delay (samples) that keeps the guard."""
        if self.guard is None or self._guard_end == self.phase_end or self.phase_index + 1 >= len(self.plan.phases):
            return 0
        pl = self._place_end(self.phase_end, self.phase_end)
        if pl.delay is None:
            docs.append(ev.SiteGuard(sample=self.phase_end, kept=False, cause=cause, site=pl.site,
                                     gap_s=None if pl.gap is None else round(pl.gap / self.fs, 4),
                                     text=f"{self.plan.phases[self.phase_index + 1].name}: "
                                          + self._guard_text(pl, "") + "; it starts as the run state says"))
            self._guard_end = self.phase_end
            return 0
        self._guard_end = self.phase_end + pl.delay
        if pl.delay:
            docs.append(ev.SiteGuard(sample=self.phase_end, delay_s=round(pl.delay / self.fs, 4), cause=cause,
                                     text=f"{self.plan.phases[self.phase_index + 1].name} starts "
                                          + self._guard_text(pl, "").lstrip() + f" ({cause})"))
        return pl.delay

    def guard_release(self, docs: list) -> bool:
        """A held induction is about to go on: True when it stays held a moment longer (the guard).
        Placed once per release (``_guard_released``; the caller resets it once it has gone on)."""
        if self.guard is None or self._guard_released:
            return False
        self._guard_released = True
        pl = self._place_release()
        g = self.generated_until
        name = self.plan.phases[self.phase_index].name
        if pl.delay is None:
            docs.append(ev.SiteGuard(sample=g, kept=False, cause="held induction", site=pl.site,
                                     gap_s=None if pl.gap is None else round(pl.gap / self.fs, 4),
                                     text=f"{name}: " + self._guard_text(pl, "") + "; delivered now"))
            return False
        self._guard_hold_until = g + pl.delay
        if not pl.delay:
            return False
        docs.append(ev.SiteGuard(sample=g, delay_s=round(pl.delay / self.fs, 4), cause="held induction",
                                 text=f"{name} resumes {pl.delay / self.fs:.2f} s later: keeps site_guard_s = "
                                      f"{self.guard.guard_s:g} s from the other sites' stimuli"))
        return True
