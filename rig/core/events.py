"""The event vocabulary: every kind of event the rig records, as one frozen dataclass per kind.

Producers (engine, controller, alarms, operator front ends, ``rig recover``) construct these
types; consumers (storage, display, summary) match on the types. :data:`EVENT_TYPES` maps the
stored ``kind`` string to its type. On disk an event is one row of ``/events``: ``sample``,
``kind``, ``text`` and ``data`` (a JSON object of the type's fields, see :func:`to_stored`);
:func:`from_stored` turns a row back into its type (an unknown kind becomes :class:`UnknownEvent`,
so readers accept files from newer versions). The event table of ``docs/file-format.md`` is
generated from this vocabulary by :mod:`rig.core.event_doc`.

Field names carry their units (``_uA``, ``_samples``, ``_s``, ``_ms``). ``extra`` holds details
that vary with the producer (fit results, alarm measurements); they are stored flat in ``data``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rig.core.event_base import _BASE_FIELDS, Event, _stored  # noqa: F401 - re-exported
from rig.core.events_analysis import (  # noqa: F401 - re-exported
    AnalysisVersion,
    AverageMeasured,
    WindowsChanged,
    WindowsProposed,
    WindowsRefused,
    WindowsUncertain,
)
from rig.core.events_sites import SiteGuard  # noqa: F401 - re-exported
from rig.core.events_wiring import GainChanged, StimulusMismatch, TelegraphUnreadable  # noqa: F401 - re-exported


# -- acquisition and outputs (the engine) ------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OutputsZeroed(Event):
    """Stimulus AO at 0 V and TTL lines low (start-up and every stop; ``text`` = the reason)."""

    KIND: ClassVar[str] = "outputs_zeroed"


@dataclass(frozen=True, kw_only=True)
class Gap(Event):
    """Samples lost by the acquisition; no sweep that touches them is stored."""

    KIND: ClassVar[str] = "gap"
    samples: int = 0


@dataclass(frozen=True, kw_only=True)
class Overrun(Event):
    """A buffer overrun reported by the device (counted in ``/status.overruns``)."""

    KIND: ClassVar[str] = "overrun"
    samples: int = 0


@dataclass(frozen=True, kw_only=True)
class LateWrite(Event):
    """An output block written after its first sample was due."""

    KIND: ClassVar[str] = "late_write"
    behind_samples: int = 0


@dataclass(frozen=True, kw_only=True)
class StimulusMissed(Event):
    """A stimulus whose samples were already past when the outputs caught up: never delivered."""

    KIND: ClassVar[str] = "stimulus_missed"
    pathway: int | None = None


@dataclass(frozen=True, kw_only=True)
class OutputUnderflow(Event):
    """The outputs ran dry: stimulation stops for the rest of the run, recording goes on."""

    KIND: ClassVar[str] = "output_underflow"


@dataclass(frozen=True, kw_only=True)
class SweepLost(Event):
    """A sweep older than the ring buffer when it was due: not stored."""

    KIND: ClassVar[str] = "sweep_lost"


@dataclass(frozen=True, kw_only=True)
class SweepDiscarded(Event):
    """A sweep not stored: incomplete at stop, touching a gap (``gap_start``, ``gap_samples``) or
    not delivered."""

    KIND: ClassVar[str] = "sweep_discarded"
    gap_start: int | None = None
    gap_samples: int | None = None


# -- the plan (the controller) -----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PhaseEntered(Event):
    """A phase of the plan started (``index`` into ``/phases``)."""

    KIND: ClassVar[str] = "phase"
    index: int = 0


@dataclass(frozen=True, kw_only=True)
class Induction(Event):
    """An induction as delivered, recorded by the engine once its phase is over (``sample``: its first
    delivered pulse, else the phase start): ``protocol`` (stored as ``kind``: TBS, HFS, …),
    ``pulses`` (= delivered), ``pulses_planned`` and ``pulses_delivered`` counted from the output
    blocks written, ``first_sample`` / ``last_sample`` of the delivered pulses (None when none),
    ``status`` "delivered" | "partial" | "skipped" | "cut_short", ``pathways``, ``intensity_uA``.
    Files of format < 1.2 carry only ``pulses`` (the planned count, recorded at the phase start)."""

    KIND: ClassVar[str] = "induction"
    protocol: str = _stored("kind", "")
    pulses: int = 0
    pathways: list[int] = field(default_factory=list)
    intensity_uA: list[float] = field(default_factory=list)
    pulses_planned: int | None = None
    pulses_delivered: int | None = None
    first_sample: int | None = None
    last_sample: int | None = None
    status: str = ""

    @property
    def delivered(self) -> int:  # pulses played (files < 1.2: the recorded, planned ``pulses``)
        return int(self.pulses if self.pulses_delivered is None else self.pulses_delivered)

    planned = property(lambda self: int(self.pulses if self.pulses_planned is None else self.pulses_planned))


@dataclass(frozen=True, kw_only=True)
class InductionHeld(Event):
    """Stimulation was paused when an induction was due (``on_pause = "hold"``): the induction
    waits and is delivered after the resume. ``phase``: its phase index; ``pulses_pending``."""

    KIND: ClassVar[str] = "induction_held"
    phase: int = 0
    pulses_pending: int = 0


@dataclass(frozen=True, kw_only=True)
class Valve(Event):
    """A perfusion valve switched: TTL ``line``, ``state`` (True = open), the ``drug`` it carries."""

    KIND: ClassVar[str] = "valve"
    line: int = 0
    state: bool = False
    drug: str = ""


@dataclass(frozen=True, kw_only=True)
class BaselineStable(Event):
    """The gated baseline held its criteria; ``extra`` = the verdict per pathway name."""

    KIND: ClassVar[str] = "baseline_stable"


@dataclass(frozen=True, kw_only=True)
class BaselineExtended(Event):
    """The gated baseline was not yet stable: extended to ``new_end_s`` (s)."""

    KIND: ClassVar[str] = "baseline_extended"
    new_end_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class BaselineUnstable(Event):
    """The gated baseline was not stable by its maximum: ``action`` (abort, pause, proceed)."""

    KIND: ClassVar[str] = "baseline_unstable"
    action: str = ""


@dataclass(frozen=True, kw_only=True)
class Paused(Event):
    """Stimulation paused (acquisition and storage go on); ``cause``: operator, alarm or gate."""

    KIND: ClassVar[str] = "paused"
    cause: str = ""


@dataclass(frozen=True, kw_only=True)
class Resumed(Event):
    """Stimulation resumed; ``cause``: the operator command that resumed it."""

    KIND: ClassVar[str] = "resumed"
    cause: str = ""


@dataclass(frozen=True, kw_only=True)
class IoFit(Event):
    """Boltzmann fit of an I/O curve phase on ``pathway``: ``fit``, ``pop_spike_threshold_uA``,
    ``means`` ([µA, response mV/ms, n]) and ``points`` (dropped when too long)."""

    KIND: ClassVar[str] = "io_fit"
    pathway: int = 0
    fit: dict[str, Any] = field(default_factory=dict)
    pop_spike_threshold_uA: float | None = None
    means: list[Any] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class IntensitySet(Event):
    """A pathway's test intensity is now ``intensity_uA`` (µA); ``rule``: the I/O rule, "tracking"
    or "operator"; ``previous_uA``; ``changed`` False when kept."""

    KIND: ClassVar[str] = "intensity_set"
    pathway: int = 0
    intensity_uA: float = 0.0
    rule: Any = None
    previous_uA: float | None = None
    clamped: bool = False
    changed: bool = True


@dataclass(frozen=True, kw_only=True)
class TrackingFrozen(Event):
    """Intensity tracking stops for good before the first induction, at ``intensity_uA``."""

    KIND: ClassVar[str] = "tracking_frozen"
    intensity_uA: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Alarm(Event):
    """An alarm fired: ``alarm`` (response_lost, noise, saturation, volley_change, gap, gain_change,
    stimulus_mismatch),
    ``pathway``, ``action`` (continue, pause, stop); ``extra`` = its measurements."""

    KIND: ClassVar[str] = "alarm"
    alarm: str = ""
    pathway: int | None = None
    action: str = ""


# -- the operator ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Operator(Event):
    """An operator command received (accepted or refused), with its ``source``; a ``mark`` holds
    its note in ``note`` (stored as ``text``); ``effective_sample`` = where it takes effect."""

    KIND: ClassVar[str] = "operator"
    cmd: str = ""
    source: str = ""
    accepted: bool = False
    effective_sample: int = 0
    pathway: int | None = None
    delta_uA: float | None = None
    note: str = _stored("text", "")
    command_data: dict[str, Any] = _stored("data", None)

    @property
    def data(self) -> dict[str, Any]:
        d = super().data
        return {k: v for k, v in d.items() if not (v in (None, "", {}) and k in _OPTIONAL_OPERATOR)}


_OPTIONAL_OPERATOR = ("pathway", "delta_uA", "text", "data")


@dataclass(frozen=True, kw_only=True)
class OperatorRefused(Event):
    """A request the control endpoint refused before it reached the controller (``reason``)."""

    KIND: ClassVar[str] = "operator_refused"
    reason: str = ""
    source: str = ""
    count: int = 1  # refusals this event stands for (a burst is coalesced into one event)


@dataclass(frozen=True, kw_only=True)
class ControlUnavailable(Event):
    """The local control endpoint (``rig ctl``) could not open; the run goes on without it."""

    KIND: ClassVar[str] = "control_unavailable"


@dataclass(frozen=True, kw_only=True)
class Recovered(Event):
    """Added by ``rig recover``: ``sweeps_recovered`` kept, ``sweeps_dropped``."""

    KIND: ClassVar[str] = "recovered"
    sweeps_recovered: int = 0
    sweeps_dropped: int = 0


@dataclass(frozen=True, kw_only=True)
class ObserverError(Event):
    """An observer (window, progress bar, user subscriber) failed; the run went on (≤ 1 per observer per 10 s)."""

    KIND: ClassVar[str] = "observer_error"
    observer: str = ""
    failures: int = 0
    total_failures: int = 0


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(Event):
    """A stored kind this version does not know (a newer file): kept as read."""

    stored_kind: str = ""
    stored_data: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.stored_kind

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.stored_data)


EVENT_TYPES: dict[str, type[Event]] = {
    t.KIND: t
    for t in (
        OutputsZeroed, Gap, Overrun, LateWrite, StimulusMissed, OutputUnderflow, SweepLost, SweepDiscarded,
        WindowsChanged, AnalysisVersion, WindowsRefused, WindowsProposed, WindowsUncertain, AverageMeasured,
        PhaseEntered, Induction, InductionHeld, Valve, BaselineStable, BaselineExtended, BaselineUnstable, Paused,
        Resumed, IoFit, IntensitySet, TrackingFrozen, Alarm,
        Operator, OperatorRefused, ControlUnavailable, Recovered, ObserverError, GainChanged,
        TelegraphUnreadable, StimulusMismatch,
        SiteGuard,
    )
}


def _field_map(t: type[Event]) -> dict[str, str]:
    """Stored key → field name of a type's own fields."""
    return {f.metadata.get("stored", f.name): f.name for f in dataclasses.fields(t) if f.name not in _BASE_FIELDS}


def to_stored(ev: Event) -> tuple[int, str, str, str]:
    """(sample, kind, text, JSON data) as written to a row of ``/events``."""
    return int(ev.sample), ev.kind, ev.text, json.dumps(ev.data, default=str)


def from_stored(sample: int, kind: str, text: str = "", data: dict[str, Any] | str | None = None) -> Event:
    """The typed event of a stored row (``data`` as a dict or its JSON); unknown kinds are kept
    as :class:`UnknownEvent`, keys a type does not have go to ``extra``."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data or "{}")
        except ValueError:
            data = {}
    d = dict(data or {})
    t = EVENT_TYPES.get(kind)
    if t is None:
        return UnknownEvent(sample=int(sample), text=text, stored_kind=kind, stored_data=d)
    names = _field_map(t)
    kw = {names[k]: v for k, v in d.items() if k in names}
    extra = {k: v for k, v in d.items() if k not in names}
    return t(sample=int(sample), text=text, extra=extra, **kw)
