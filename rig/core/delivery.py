"""What the outputs actually did: pulses counted from the output blocks written, per induction and
per sweep (test, I/O and train sweeps: :meth:`DeliveryLedger.of_sweep`, stored in ``/sweeps``).

The engine hands the ledger every stimulus it renders and every output block it wrote
successfully; a pulse is *delivered* when the block holding its onset was written with stimulation
on and the sample clock has played its onset (acquisition passed it; a pulse written ahead of a
stop is not delivered). When an induction phase is over (the scheduler entered a later phase and every pulse of the
phase is behind the written outputs), or the run stops, the ledger returns one
:class:`~rig.core.events.Induction` with ``pulses_planned`` (the plan's count), ``pulses_delivered``,
the first and last delivered sample and a status: ``delivered`` (all), ``partial``, ``skipped``
(none) or ``cut_short`` (the run stopped during the phase).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.core import events as ev
from rig.core.plan import Plan, Stimulus

INDUCTION_KIND = "induction"


@dataclass
class _Open:
    phase: int
    start: int  # phase start sample
    planned: int
    onsets: list[int] = field(default_factory=list)  # pulse onsets written with stimulation on
    in_flight: list[Stimulus] = field(default_factory=list)
    intensity_uA: list[float] = field(default_factory=list)
    ended: bool = False  # the scheduler moved past this phase


class DeliveryLedger:
    """Counts delivered induction pulses (see module docstring)."""

    def __init__(self, plan: Plan, pathway_name=lambda pw: f"S{pw + 1}") -> None:
        self.plan = plan
        self.name = pathway_name
        self._open: dict[int, _Open] = {}
        self.records: list[ev.Induction] = []
        self._flight: list[tuple[Stimulus, list[int]]] = []  # every stimulus (sweep) being written
        self._done: dict[tuple[int, int], tuple[int, list[int]]] = {}  # (sample, pathway) → planned, onsets

    @property
    def busy(self) -> bool:
        """An induction is open (its Induction record is still to come)."""
        return bool(self._open)

    def phase_started(self, index: int, kind: str, start_sample: int) -> None:
        """A PhaseStart went out: an induction phase opens, earlier ones are over."""
        for o in self._open.values():
            if o.phase < index:
                o.ended = True
        if kind == INDUCTION_KIND:
            planned = sum(s.n_pulses for s in self.plan.phases[index].stimuli)
            self._open[index] = _Open(index, int(start_sample), planned)

    def scheduled(self, stim: Stimulus, intensity_uA: float, phase: int) -> None:
        """A stimulus of ``phase`` will be rendered (absolute samples)."""
        self._flight.append((stim, []))
        o = self._open.get(phase)
        if o is not None and stim.kind != "test":  # test pulses of a held induction's gate re-check
            o.in_flight.append(stim)
            if not o.intensity_uA:
                o.intensity_uA.append(float(intensity_uA))

    def written(self, start: int, n: int, stimulating: bool) -> None:
        """Output block [start, start + n) was written; ``stimulating`` False: outputs were zeroed."""
        end = start + n
        flight = []
        for s, onsets in self._flight:
            if stimulating:
                onsets.extend(t for t in (s.sample + off for off in s.pulse_offsets) if start <= t < end)
            if s.sample + s.last_pulse_end > end:
                flight.append((s, onsets))
            else:
                self._done[(s.sample, s.pathway)] = (s.n_pulses, onsets)
        self._flight = flight
        while len(self._done) > 4096:  # sweeps never cut (lost, discarded) are not kept for ever
            self._done.pop(next(iter(self._done)))
        for o in self._open.values():
            keep = []
            for s in o.in_flight:
                if stimulating:
                    o.onsets.extend(t for t in (s.sample + off for off in s.pulse_offsets) if start <= t < end)
                if s.sample + s.last_pulse_end > end:
                    keep.append(s)
            o.in_flight = keep

    def of_sweep(self, stim: Stimulus) -> dict[str, int]:
        """The delivered counts of the sweep of ``stim`` (cut: acquisition passed its last pulse), as
        :class:`~rig.core.documents.Sweep` fields; forgotten once asked."""
        planned, onsets = self._done.pop((stim.sample, stim.pathway), (stim.n_pulses, None))
        if onsets is None:  # still in flight (not fully written): count what was written so far
            onsets = next((o for s, o in self._flight if s is stim), [])
        return {"pulses_planned": int(planned), "pulses_delivered": len(onsets),
                "first_pulse_sample": int(min(onsets)) if onsets else -1,
                "last_pulse_sample": int(max(onsets)) if onsets else -1}

    def dropped(self, stim: Stimulus, phase: int) -> None:
        """A scheduled stimulus will not be rendered (outputs late / stopped)."""
        o = self._open.get(phase)
        if o is not None and stim in o.in_flight:
            o.in_flight.remove(stim)

    def close_ready(self, played_until: int, *, stopping: bool = False,
                    completed: bool = False) -> list[ev.Induction]:
        """The Induction records of phases that are over and played (all open ones when ``stopping``;
        ``completed``: the plan ran to its end, so no open phase was cut short).

        ``played_until``: samples acquired so far (the clock has played every output before it)."""
        if completed:
            for o in self._open.values():
                o.ended = True
        out = []
        for k in sorted(self._open):
            o = self._open[k]
            played = not o.onsets or max(o.onsets) < played_until
            if stopping or (o.ended and not o.in_flight and played):
                out.append(self._record(o, played_until, cut_short=stopping and not o.ended))
                del self._open[k]
        self.records.extend(out)
        return out

    def _record(self, o: _Open, played_until: int, cut_short: bool) -> ev.Induction:
        done = sorted(t for t in o.onsets if t < played_until)
        delivered = len(done)
        first, last = (done[0], done[-1]) if done else (None, None)
        p = self.plan.phases[o.phase]
        proto = str(p.info.get("protocol", "train"))
        pws = sorted({s.pathway for s in p.stimuli})
        if delivered == 0:
            status = "cut_short" if cut_short else "skipped"
        elif delivered < o.planned:
            status = "cut_short" if cut_short else "partial"
        else:
            status = "delivered"
        names = ", ".join(self.name(q) for q in pws)
        text = f"{proto} on {names}: {delivered} of {o.planned} pulses delivered"
        if status != "delivered":
            text += f" ({status.replace('_', ' ')})"
        return ev.Induction(
            sample=first if first is not None else o.start, text=text, protocol=proto, pulses=delivered,
            pathways=pws, intensity_uA=o.intensity_uA[:1], pulses_planned=o.planned, pulses_delivered=delivered,
            first_sample=first, last_sample=last, status=status)
