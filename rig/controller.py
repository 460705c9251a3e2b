"""The controller: walks the plan, hands the engine the next stimuli, takes operator commands.

It holds the run state that decides *what* to stimulate (current phase, test intensity per
pathway); the engine decides nothing. Decisions take effect at the first sample not yet written
to the device. Closed-loop rules plug in through :meth:`on_measured`.
"""

from __future__ import annotations

from dataclasses import replace

from rig.documents import Event, Measured, PhaseStart
from rig.plan import Phase, Plan, Stimulus, ValveChange


class Controller:
    """Expands the plan lazily into absolute-time stimuli as the write-ahead horizon advances."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.intensity_uA = list(plan.test_intensity_uA)
        self.phase_index = 0
        self.phase_start = 0
        self.generated_until = 0
        self.finished_at: int | None = None
        self.phase_starts: list[int] = []
        self.stimulation_paused = False
        self._entered = False

    @property
    def phase(self) -> Phase:
        return self.plan.phases[self.phase_index]

    def _enter_phase(self, docs: list) -> None:
        p = self.phase
        self.phase_starts.append(self.phase_start)
        docs.append(PhaseStart(self.phase_index, p.name, p.kind, self.phase_start))
        docs.append(Event(self.phase_start, "phase", f"{p.name} ({p.kind})", {"index": self.phase_index}))
        if p.kind == "induction" and p.stimuli:
            pulses = sum(s.n_pulses for s in p.stimuli)
            first = self.phase_start + min(s.sample for s in p.stimuli)
            docs.append(
                Event(
                    first,
                    "induction",
                    f"{p.info.get('protocol', 'train')} on pathway(s) "
                    f"{sorted({s.pathway for s in p.stimuli})}: {pulses} pulses",
                    {"kind": p.info.get("protocol", "train"), "pulses": pulses,
                     "pathways": sorted({s.pathway for s in p.stimuli})},
                )
            )
        for vc in p.valves:
            docs.append(Event(self.phase_start + vc.sample, "valve", p.info.get("drug", ""),
                              {"line": vc.line, "state": vc.state}))

    def schedule(self, until: int) -> tuple[list[tuple[Stimulus, float, int]], list[ValveChange], list]:
        """Stimuli (with resolved µA) and valve changes with onset in [generated_until, until).

        Also returns the documents (phase starts, induction events) that this advance creates.
        """
        stims: list[tuple[Stimulus, float, int]] = []
        valves: list[ValveChange] = []
        docs: list = []
        while self.finished_at is None and self.generated_until < until:
            if not self._entered:
                self._enter_phase(docs)
                self._entered = True
            p, p0 = self.phase, self.phase_start
            p_end = p0 + p.duration_samples
            seg_end = min(until, p_end)
            r0, r1 = self.generated_until - p0, seg_end - p0
            if p.test is not None and not self.stimulation_paused:
                for rel, pw in p.test.pulse_times(r0, r1):
                    s = Stimulus(
                        sample=p0 + rel, pathway=pw, kind=p.test.kind,
                        width_samples=self.plan.pulse_width_samples, biphasic=self.plan.biphasic,
                        pre_samples=self.plan.sweep_pre_samples, post_samples=self.plan.sweep_post_samples,
                    )
                    stims.append((s, self.intensity_uA[pw], self.phase_index))
            for s in p.stimuli:
                if r0 <= s.sample < r1 and not self.stimulation_paused:
                    a = replace(s, sample=s.sample + p0)
                    uA = s.intensity_uA if s.intensity_uA is not None else self.intensity_uA[s.pathway]
                    stims.append((a, uA, self.phase_index))
            for vc in p.valves:
                if r0 <= vc.sample < r1:
                    valves.append(ValveChange(vc.sample + p0, vc.line, vc.state))
            self.generated_until = seg_end
            if seg_end == p_end:
                if self.phase_index + 1 < len(self.plan.phases):
                    self.phase_index += 1
                    self.phase_start = p_end
                    self._entered = False
                else:
                    self.finished_at = p_end
        stims.sort(key=lambda t: t[0].sample)
        return stims, valves, docs

    def on_measured(self, doc: Measured) -> list:
        """Closed-loop hook: returns documents (decisions) to record. Open loop: none."""
        return []
