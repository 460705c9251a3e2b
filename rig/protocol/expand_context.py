"""The state shared while a protocol is expanded for one rig: sample conversions, the rig's
limits and the problems found so far (one ``rig check`` reports every problem)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rig.core.plan import Stimulus, TestSchedule
from rig.protocol.models import Protocol
from rig.protocol.problems import Loc, Problem
from rig.protocol.rigfile import RigConfig
from rig.stimulus import LimitExceeded, check_spacing, stimulus_problems


@dataclass
class _DrugOn:
    phase: int
    drug: str
    concentration_uM: float
    valve: str | None
    line: int | None


@dataclass
class _Ctx:
    """Shared state while expanding: the rig, sample conversions and the problems found."""

    proto: Protocol
    rig: RigConfig
    fs: float
    problems: list[Problem] = field(default_factory=list)
    width: int = 1
    pre: int = 0
    post: int = 0
    biphasic: bool = False
    test_offsets: tuple[int, ...] = (0,)  # pulse onsets of a test stimulus (paired: (0, interval))
    pathways: tuple[int, ...] = (0,)
    test_uA: list[float] = field(default_factory=list)  # initial test intensity per rig pathway
    bound_uA: list[float] = field(default_factory=list)  # the highest it can become (closed-loop rules)
    drugs_on: dict[str, _DrugOn] = field(default_factory=dict)

    def add(self, loc: Loc, message: str) -> None:
        p = Problem(loc, message)
        if p not in self.problems:
            self.problems.append(p)

    def samples(self, seconds: float) -> int:
        return int(round(seconds * self.fs))

    @property
    def pulse_samples(self) -> int:
        return self.width * (2 if self.biphasic else 1)

    @property
    def sweep_samples(self) -> int:
        return self.pre + self.test_offsets[-1] + self.post

    def pathway(self, loc: Loc, name: str, within_test: bool = True) -> int | None:
        names = self.rig.pathway_names()
        if name not in names:
            self.add(loc, f"{name!r} is not a pathway of the rig file (it has {', '.join(names)})")
            return None
        if within_test and name not in self.proto.stimulation.pathways:
            self.add(loc, f"{name!r} is not in stimulation.pathways ({', '.join(self.proto.stimulation.pathways)})")
            return None
        return names.index(name)

    def check(self, loc_for: dict[str, Loc], stim: Stimulus, intensity_uA: float) -> bool:
        """Check one stimulus against the rig's limits; the problem goes to the field that sets it."""
        found = stimulus_problems(stim, intensity_uA, self.fs, self.rig.stim_limits())
        for exc in found:
            self.add(loc_for.get(exc.quantity, loc_for["default"]), str(exc))
        return not found

    def spacing(self, loc: Loc, stims: list[Stimulus]) -> None:
        """Pulses of separate stimuli (LFS pulses, pairs) on one pathway: overlap and frequency."""
        by_pw: dict[int, list[int]] = {}
        for s in stims:
            by_pw.setdefault(s.pathway, []).extend(s.sample + o for o in s.pulse_offsets)
        for on in by_pw.values():
            try:
                check_spacing(on, self.pulse_samples, self.fs, self.rig.stim_limits())
            except LimitExceeded as exc:
                self.add(loc, str(exc))
                return

    def test_schedule(self, i: int, interval_s: float, pathways: tuple[int, ...] | None = None) -> TestSchedule:
        interval = self.samples(interval_s)
        if interval <= self.sweep_samples:
            self.add(("phases", i, "interval_s"),
                     f"{interval_s:g} s is not longer than a sweep ({self.sweep_samples / self.fs:g} s = "
                     "stimulation.sweep_pre_ms + sweep_post_ms)")
            interval = self.sweep_samples + 1
        return TestSchedule(interval_samples=interval, pathways=pathways or self.pathways,
                            first_offset=self.first_offset(interval), pulse_offsets=self.test_offsets)

    def first_offset(self, interval: int) -> int:
        """First pulse of a periodic phase: half an interval in, at most 1 s after the sweep start."""
        return max(self.pre, min(interval // 2, self.pre + self.samples(1.0)))

    def test_uA_loc(self, pathway: int) -> Loc:
        """Where the test intensity of rig pathway ``pathway`` is set in the protocol."""
        st = self.proto.stimulation
        name = self.rig.pathway_names()[pathway]
        k = st.pathways.index(name) if name in st.pathways and len(st.intensity_uA) > 1 else 0
        return ("stimulation", "intensity_uA", k)

    def max_test_uA(self, pathway: int) -> float:
        return self.bound_uA[pathway]

    def windows_fit(self) -> dict[int, dict]:
        """The protocol's detector windows — ``[analysis] windows`` and each pathway's own
        (``[analysis.pathways.S2.windows]``) — lie inside every sweep (``sweep_pre_ms``/``sweep_post_ms``)
        and name stimulated pathways. Returns the pathways' own windows by rig pathway index."""
        from rig.detector.windows import WINDOW_NAMES, Windows

        given = dict(self.proto.analysis.windows)
        try:
            w = Windows.from_dict(given)
        except ValueError:  # the model said why already
            return {}
        pre_ms, post_ms = self.pre / self.fs * 1e3, self.post / self.fs * 1e3
        for name in WINDOW_NAMES:
            problem = Windows.outside(w, pre_ms, post_ms) if name in given else ""
            if problem and problem.startswith(f"window {name} "):
                self.add(("analysis", "windows", name), problem)
        names, tested = self.rig.pathway_names(), list(self.proto.stimulation.pathways)
        out: dict[int, dict] = {}
        for pw, pa in self.proto.analysis.pathways.items():
            own = dict(pa.windows)
            if pw not in tested or pw not in names:
                self.add(("analysis", "pathways", pw), f"{pw!r} is not a stimulated pathway "
                                                       f"(stimulation.pathways: {', '.join(tested)})")
                continue
            try:
                wp = Windows.from_dict({**w.to_dict(), **own})
            except ValueError:  # the model said why already
                continue
            for name in WINDOW_NAMES:
                problem = Windows.outside(wp, pre_ms, post_ms) if name in own else ""
                if problem and problem.startswith(f"window {name} "):
                    self.add(("analysis", "pathways", pw, "windows", name), problem)
            out[names.index(pw)] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in own.items()}
        return out
