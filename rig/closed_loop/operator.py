"""Operator commands inside the controller: each command received is acted on (or refused with its
reason) and recorded as an :class:`~rig.core.events.Operator` event; a command that changes the
run state also emits the state event (``Paused``, ``Resumed``, ``IntensitySet``), so consumers
read the state from one vocabulary whoever changed it (operator, alarm, gate).

:class:`OperatorCommands` is a mixin of :class:`~rig.closed_loop.controller.Controller`; it uses
the controller's run state (phase, intensities, ``stimulation_paused``, ``generated_until``).
"""

from __future__ import annotations

import json
import math
import queue
from dataclasses import replace
from typing import Any

from rig.closed_loop.io_fit import quantize
from rig.core import events as ev


class OperatorCommands:
    """Command handling of the controller (see module docstring)."""

    # provided by the Controller
    commands: queue.Queue
    external_events: queue.Queue
    stimulation_paused: bool
    generated_until: int
    held_induction: dict | None
    phase_start: int
    phase_end: int
    _now: int
    max_uA: float
    ao_max_uA: tuple[float | None, ...] = ()  # per pathway: the largest µA its AO command range gives

    def top_uA(self, pw: int) -> float:
        """The largest intensity (µA) pathway ``pw`` may get: the rig's limit, and the isolator command
        its AO channel can produce (``ao_range_V × uA_per_V``), whichever is lower."""
        ao = self.ao_max_uA[pw] if 0 <= pw < len(self.ao_max_uA) else None
        return self.max_uA if ao is None else min(self.max_uA, ao)

    def poll(self, now_sample: int) -> list:
        """Engine hook, once per acquired block: drain operator commands and outside events
        (typed events put on ``external_events`` by other threads, stamped with ``now_sample``)."""
        self._now = now_sample
        docs: list = []
        while True:
            try:
                outside = self.external_events.get_nowait()
            except queue.Empty:
                break
            if not isinstance(outside, ev.Event):
                raise TypeError(f"external_events takes rig.core.events types, got {type(outside).__name__}")
            docs.append(replace(outside, sample=now_sample))
        while True:
            try:
                cmd = self.commands.get_nowait()
            except queue.Empty:
                break
            docs.extend(self.handle_command(cmd))
        self._update_status()
        return docs

    def handle_command(self, cmd: Any) -> list:
        """Act on one operator command (dict or object with ``to_dict()``); always recorded as an
        ``operator`` event with its source and whether it was accepted, followed by the state
        events it caused."""
        c: dict = dict(cmd) if isinstance(cmd, dict) else cmd.to_dict()
        name = str(c.get("cmd", ""))
        source = str(c.get("source", "?"))
        sample = max(self._now, 0)
        was_paused = self.stimulation_paused
        effects: list = []
        try:
            accepted, note = self._apply_command(name, c, sample, effects)
        except CommandRefused as exc:  # bad values: refused with the reason, the run goes on
            accepted, note, effects = False, f"refused: {exc}", []
        except Exception as exc:  # noqa: BLE001 - no command may end the run by accident
            accepted, note, effects = False, f"refused: {type(exc).__name__}: {str(exc)[:120]}", []
        self.last_command = {"cmd": name, "accepted": accepted, "note": note, "source": source,
                             "time_s": round(sample / self.fs, 3)}
        c = _recordable(c)
        if self.stimulation_paused != was_paused:
            kind = ev.Paused if self.stimulation_paused else ev.Resumed
            what = "paused by the operator" if self.stimulation_paused else f"resumed ({name})"
            effects.append(kind(sample=sample, text=f"stimulation {what}", cause=f"operator {name}"))
        text = f"{name} from {source}" + (f": {c['text']}" if c.get("text") else "") + (f" ({note})" if note else "")
        pw = c.get("pathway")
        rec = ev.Operator(
            sample=sample, text=text, cmd=name, source=source, accepted=accepted,
            effective_sample=self.generated_until, pathway=None if pw is None else pw,
            delta_uA=c.get("delta_uA"), note=str(c.get("text") or ""), command_data=c.get("data") or None)
        self._update_status()
        return [rec, *effects]

    def _apply_command(self, name: str, c: dict, sample: int, effects: list) -> tuple[bool, str]:
        p = self.phase if self.finished_at is None else None
        if name == "mark":
            return True, ""
        if name == "pause":
            self.stimulation_paused = True
            return True, "stimulation paused"
        if name == "resume":
            self.stimulation_paused = False
            if self._gate_wait:
                self._gate_wait = False
                self._force_end = True
                return True, "protocol continues after the baseline"
            return True, "stimulation resumed"
        if name == "stop":
            self.stop_request = ("interrupted", f"stopped by the operator ({c.get('source', '?')})")
            return True, "run stops, outputs zeroed"
        if name == "induce_now":
            if p is None or p.kind != "baseline":
                return False, "refused: not in a baseline phase"
            if self.phase_index + 1 >= len(self.plan.phases):
                return False, "refused: no phase after this baseline"
            if self.stimulation_paused and not self._gate_wait:
                return False, "refused: stimulation is paused; resume first, then induce"
            end, later = self.guard_command_end(self.generated_until, self.generated_until)  # multi-site guard
            if end is None:
                return False, f"refused: {later}"
            self._force_end = True
            self._gate_wait = False
            self.stimulation_paused = False
            self.phase_end = end
            return True, f"baseline ends {later}" if later else "baseline ended now"
        if name == "extend_baseline":
            if p is None or p.kind != "baseline":
                return False, "refused: not in a baseline phase"
            data = c.get("data") or {}
            if not isinstance(data, dict):
                raise CommandRefused("data must be an object such as {\"seconds\": 300}")
            secs = finite_number(data.get("seconds", 300.0), "seconds", 0.0, 24 * 3600.0)
            if secs <= 0:
                raise CommandRefused(f"seconds = {secs:g} outside (0, 86400]")
            base = max(self.phase_end, self.generated_until)
            end, later = self.guard_command_end(base + int(secs * self.fs), base)  # multi-site guard
            if end is None:
                return False, f"refused: {later}"
            self.phase_end = end
            said = f"baseline extended by {secs:g} s" + (f", its end {later}" if later else "")
            return True, said + self._extend_keeps_pause()
        if name == "set_windows":
            d = c.get("data") or {}
            w, new = d.get("window"), d.get("new_ms")
            if not isinstance(w, str) or not isinstance(new, (list, tuple)) or len(new) != 2:
                return False, "refused: needs data = {window: name, new_ms: [start, end]}"
            try:
                ms = (float(new[0]), float(new[1]))
            except (TypeError, ValueError):
                return False, "refused: new_ms must be two numbers (ms)"
            pw = c.get("pathway")  # None: every pathway
            if pw is not None and (isinstance(pw, bool) or not isinstance(pw, int)
                                   or not 0 <= pw < len(self.intensity_uA)):
                raise CommandRefused(f"pathway {pw!r} is not a wired pathway (0…{len(self.intensity_uA) - 1})")
            self.windows_changes.append((w, ms, "set_windows", pw))
            who = "every pathway" if pw is None else f"S{pw + 1}"
            return True, (f"{w} window {ms[0]:g}–{ms[1]:g} ms for {who}: a new analysis version "
                          "(recorded sweeps re-measured)")
        if name == "reanalyse":
            return self._reanalyse(c.get("data") or {})
        if name == "intensity":
            return self._operator_intensity(c, sample, effects)
        return False, "refused: not handled by the controller"

    def _reanalyse(self, data: Any) -> tuple[bool, str]:
        """The window's Re-analyse: its windows (``windows_ms``) as one new analysis version, which the
        engine writes to the file with every recorded sweep re-measured."""
        w = data.get("windows_ms") if isinstance(data, dict) else None
        if w is not None and not isinstance(w, dict):
            raise CommandRefused("windows_ms must be an object {window: [start_ms, end_ms]}")
        own = data.get("pathway_windows_ms") if isinstance(data, dict) else None  # per pathway: {"0": {…}}
        if own is not None and not isinstance(own, dict):
            raise CommandRefused("pathway_windows_ms must be an object {pathway: {window: [start_ms, end_ms]}}")
        changes = []
        for pw, ws in [(None, w or {}), *((p, x) for p, x in (own or {}).items())]:
            if pw is not None and (not str(pw).isdigit() or int(pw) >= len(self.intensity_uA)
                                   or not isinstance(ws, dict)):
                raise CommandRefused(f"pathway_windows_ms.{pw}: not a wired pathway's windows")
            for k, v in ws.items():
                if not isinstance(v, (list, tuple)) or len(v) != 2:
                    raise CommandRefused(f"windows_ms.{k} must be [start_ms, end_ms]")
                changes.append((str(k), (finite_number(v[0], k, -1e3, 1e4), finite_number(v[1], k, -1e3, 1e4)),
                                "reanalyse", None if pw is None else int(pw)))
        self.windows_changes.extend(changes or [(None, (0.0, 0.0), "reanalyse")])
        n = data.get("sweeps") if isinstance(data, dict) else None
        return True, (f"{n} sweeps re-measured by the window; " if isinstance(n, int) else "") + \
            "a new analysis version: every recorded sweep is re-measured into the file"

    def _extend_keeps_pause(self) -> str:
        """An extension releases only the gate's own wait; a pause by the operator or an alarm
        stays (no action silently cancels another). Returns the note's tail."""
        if self._gate_wait:
            self._gate_wait = False
            self.stimulation_paused = False
            return "; test pulses resume"
        return "; stimulation stays paused (resume to go on)" if self.stimulation_paused else ""

    def refusal(self, c: dict) -> str | None:
        """Why the wiring refuses command ``c`` whatever the run's state (None: it does not).
        Stateless and thread-safe: the terminal and the control endpoint ask before sending."""
        pw = c.get("pathway")
        if (c.get("cmd") == "intensity" and isinstance(pw, int) and not isinstance(pw, bool)
                and 0 <= pw < len(self.ttl_only) and self.ttl_only[pw]):
            return (f"{self.name(pw)} is TTL-only: its amplitude is set on the isolator's front panel, "
                    "the rig cannot change it (turn the knob, then note it with a mark)")
        return None

    def _operator_intensity(self, c: dict, sample: int, effects: list) -> tuple[bool, str]:
        pw, delta = c.get("pathway"), c.get("delta_uA")
        if pw is None or delta is None:
            return False, "refused: needs a wired pathway and delta_uA"
        if isinstance(pw, bool) or not isinstance(pw, int) or not 0 <= pw < len(self.intensity_uA):
            raise CommandRefused(f"pathway {pw!r} is not a wired pathway (0…{len(self.intensity_uA) - 1})")
        why = self.refusal(c)
        if why:
            raise CommandRefused(why)
        top = self.top_uA(pw)
        span = self.max_uA - self.min_uA
        delta = finite_number(delta, "delta_uA", -span, span)
        old = self.intensity_uA[pw]
        q, clamped = quantize(old + delta, self.resolution_uA, self.min_uA, top)
        self._set_intensity(pw, q)
        self.tracker.restart(pw)
        effects.append(ev.IntensitySet(sample=sample, text=f"{self.name(pw)}: {old:g} → {q:g} µA (operator)",
                                       pathway=pw, intensity_uA=q, previous_uA=old, rule="operator",
                                       clamped=clamped, changed=q != old))
        why = ""
        if clamped:
            why = (f" (clamped: {top:g} µA is the most its AO command range gives)" if top < self.max_uA and q >= top
                   else " (clamped to the rig limits)")
        return True, f"{self.name(pw)} at {q:g} µA{why}"

    def _holds(self, p: Any, r0: int) -> bool:
        """A paused induction with pulses still to come and ``on_pause = "hold"`` waits."""
        return (p.kind == "induction" and p.info.get("on_pause", "hold") == "hold"
                and any(s.sample >= r0 for s in p.stimuli))

    def _hold_induction(self, samples: int, docs: list) -> None:
        """Stop the induction phase's clock for ``samples``: its remaining stimuli start later."""
        if self.held_induction is None:
            r0 = self.generated_until - self.phase_start
            left = sum(s.n_pulses for s in self.phase.stimuli if s.sample >= r0)
            self.held_induction = {"phase": self.phase_index, "name": self.phase.name, "pulses_pending": left,
                                   "since_s": round(self.generated_until / self.fs, 3)}
            docs.append(ev.InductionHeld(sample=self.generated_until, phase=self.phase_index, pulses_pending=left,
                                         text=f"{self.phase.name}: stimulation paused, induction held "
                                              f"({left} pulses wait for the resume)"))
        self.phase_start += samples
        self.phase_end += samples

    def take_windows_changes(self) -> list[tuple]:
        """Engine hook: detector window changes asked for since the last call: (window, (start, end) ms,
        source[, pathway]) — pathway None or absent: every pathway; window None: no change, a new
        analysis version with the windows in use (Re-analyse)."""
        out, self.windows_changes = self.windows_changes, []
        return out


class CommandRefused(ValueError):
    """An operator command with a value out of type or range; refused, the run goes on."""


def finite_number(value: Any, name: str, lo: float, hi: float) -> float:
    """``value`` as a float if it is a real number (not a bool, not a string) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandRefused(f"{name} must be a number, not {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise CommandRefused(f"{name} = {x} is not a finite number")
    if not lo <= x <= hi:
        raise CommandRefused(f"{name} = {x:g} outside [{lo:g}, {hi:g}]")
    return x


def _recordable(c: dict) -> dict:
    """The command's fields made safe to record (finite numbers, bounded text)."""
    out = dict(c)
    for key in ("delta_uA",):
        v = out.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            out[key] = None
    pw = out.get("pathway")
    if pw is not None and (isinstance(pw, bool) or not isinstance(pw, int)):
        out["pathway"] = None
    data = out.get("data")
    if data is not None:
        try:
            ok = isinstance(data, dict) and len(json.dumps(data, allow_nan=False)) <= 512
        except (TypeError, ValueError, RecursionError):
            ok = False
        out["data"] = data if ok else {"refused_data": repr(data)[:200]}
    if out.get("text") is not None:
        out["text"] = str(out["text"])[:200]
    return out
