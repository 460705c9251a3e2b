"""The plan: an experiment as pure data (phases and their stimuli), in samples.

A protocol file is validated and expanded into a :class:`Plan` before anything is armed. The
controller walks the plan; the engine renders the stimuli it hands out. Times inside a phase are
relative to the phase start, so a closed-loop controller can extend a phase (a gated baseline)
without rewriting the phases after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The closed-loop analysis settings when a protocol's [analysis] table does not give them (a plan's
# ``closed_loop["analysis"]`` holds only what the protocol gave): windows placed from the landmarks
# of the first SETTLE_SWEEPS_DEFAULT baseline test sweeps of each pathway (rig.closed_loop.auto_windows).
AUTO_WINDOWS_DEFAULT = True
SETTLE_SWEEPS_DEFAULT = 10


@dataclass(frozen=True)
class Stimulus:
    """One stimulus event on one pathway, recorded as one sweep.

    ``sample`` is the onset of the first pulse (relative to the phase start in a plan, absolute
    once scheduled); ``pulse_offsets`` are the pulse onsets in samples from ``sample`` (first 0).
    ``intensity_uA`` None means "the pathway's current test intensity" (set by the controller).
    The sweep spans [sample - pre_samples, sample + pulse_offsets[-1] + post_samples).
    """

    sample: int
    pathway: int
    kind: str  # "test" | "train" | "io" | "paired"
    pulse_offsets: tuple[int, ...] = (0,)
    intensity_uA: float | None = None
    width_samples: int = 2
    biphasic: bool = False
    pre_samples: int = 400
    post_samples: int = 1600
    label: str = ""

    @property
    def n_pulses(self) -> int:
        return len(self.pulse_offsets)

    @property
    def last_pulse_end(self) -> int:
        """Relative end (exclusive) of the last pulse's samples, biphasic included."""
        return self.pulse_offsets[-1] + self.width_samples * (2 if self.biphasic else 1)

    def sweep_bounds(self) -> tuple[int, int]:
        """[first, end) sample of the sweep around this stimulus, in the same frame as ``sample``."""
        return self.sample - self.pre_samples, self.sample + self.pulse_offsets[-1] + self.post_samples


@dataclass(frozen=True)
class TestSchedule:
    """Periodic test pulses: pulse k at ``first_offset + k * interval_samples`` on
    ``pathways[k % len(pathways)]`` (alternating S1/S2)."""

    interval_samples: int
    pathways: tuple[int, ...] = (0,)
    first_offset: int = 0
    kind: str = "test"
    pulse_offsets: tuple[int, ...] = (0,)  # (0, interval): paired test pulses (stimulation.paired_interval_ms)

    def pulse_times(self, begin: int, end: int) -> list[tuple[int, int]]:
        """(relative sample, pathway) for every test pulse with begin <= sample < end."""
        if end <= self.first_offset:
            return []
        k0 = max(0, -(-(begin - self.first_offset) // self.interval_samples))
        out = []
        k = k0
        while True:
            s = self.first_offset + k * self.interval_samples
            if s >= end:
                break
            out.append((s, self.pathways[k % len(self.pathways)]))
            k += 1
        return out

    def _k_range(self, begin: int, end: int) -> tuple[int, int]:
        """Pulse numbers [k0, k1) with begin <= sample < end (closed form: no list of pulses)."""
        if end <= self.first_offset:
            return 0, 0
        k0 = max(0, -(-(begin - self.first_offset) // self.interval_samples))
        k1 = max(k0, -(-(end - self.first_offset) // self.interval_samples))
        return k0, k1

    def count(self, begin: int, end: int) -> int:
        """Number of test pulses with begin <= sample < end."""
        k0, k1 = self._k_range(begin, end)
        return k1 - k0

    def per_pathway(self, begin: int, end: int) -> dict[int, tuple[int, int, int]]:
        """Pathway → (pulses, first sample, last sample) of the test pulses in [begin, end), in
        closed form (a 100-day protocol at 0.5 s has millions of them)."""
        k0, k1 = self._k_range(begin, end)
        n_pw = len(self.pathways)
        out: dict[int, tuple[int, int, int]] = {}
        for j in range(n_pw):
            first = k0 + (j - k0) % n_pw
            if first >= k1:
                continue
            last = k1 - 1 - (k1 - 1 - j) % n_pw
            n = (last - first) // n_pw + 1
            pw = self.pathways[j]
            old = out.get(pw)
            s0, s1 = self.first_offset + first * self.interval_samples, self.first_offset + last * self.interval_samples
            out[pw] = (n, s0, s1) if old is None else (old[0] + n, min(old[1], s0), max(old[2], s1))
        return out


@dataclass(frozen=True)
class ValveChange:
    """Switch a DO line (perfusion valve) at a sample relative to the phase start."""

    sample: int
    line: int
    state: int


@dataclass(frozen=True)
class Phase:
    """One phase of the experiment (baseline, drug, induction, follow-up, …).

    ``kind`` and what the phase holds (``rig.protocol.expand`` builds them from the protocol file):

    - ``io_curve``: ``stimuli`` of kind "io" with explicit ``intensity_uA``, ascending, pathways
      alternating. info: ``intensities_uA`` (list), ``repeats``, ``pathways`` (indices); with a
      closed-loop rule also ``rule`` = "percent_of_max" + ``percent``, or ``rule`` =
      "below_pop_spike" + ``margin_percent`` (set the test intensity of those pathways after the curve).
    - ``baseline``: ``test``; a gated baseline has ``max_duration_samples`` and info
      ``stability`` = {``max_drift_percent_per_10min``, ``max_halves_diff_percent``, ``window_min``}
      and ``on_unstable`` = "abort" | "proceed" | "pause".
    - ``drug``: ``test`` continues; ``valves`` opens the drug's line at sample 0 (it stays open until a
      ``washout``). info: ``drug`` (name as written, e.g. "basimglurant", "MPEP"),
      ``concentration_uM``, ``valve`` (rig valve name or None = manual perfusion), ``valve_line``
      (DO index or None), ``wash_in_s``.
    - ``washout``: ``test`` continues; ``valves`` closes the lines. info ``drugs``: list of
      {``drug``, ``concentration_uM``, ``valve``, ``valve_line``} switched off.
    - ``chemical``: like ``drug`` but the valve closes again on the phase's last sample
      (e.g. DHPG 100 µM, 5 min). info: ``drug``, ``concentration_uM``, ``valve``, ``valve_line``,
      ``duration_s``.
    - ``induction``: ``stimuli`` on one pathway, no test pulses. tbs / train / hfs: one Stimulus
      (kind "train") per train; lfs: one Stimulus (kind "train", one pulse) per pulse; pp_lfs: one
      Stimulus (kind "paired") per pair. info: ``protocol`` (pattern), ``pathway``, ``pulses``
      (total), ``intensity_uA`` (None = test intensity) and the pattern's parameters as written
      (hfs: ``pulses_per_train``, ``frequency_hz``, ``trains``, ``train_interval_s``; tbs/train:
      ``pulses_per_burst``, ``intra_burst_hz``, ``bursts``, ``burst_interval_ms``/``burst_hz``,
      ``trains``, ``train_interval_s``; lfs: ``frequency_hz``; pp_lfs: ``pairs``,
      ``pair_interval_ms``, ``frequency_hz``).
    - ``follow_up``: ``test``.
    - ``paired_pulse``: ``stimuli`` of kind "paired" (pulse_offsets (0, isi)); info
      ``intervals_ms``, ``repeats``, ``pathways``.
    """

    name: str
    kind: str
    duration_samples: int
    test: TestSchedule | None = None
    stimuli: tuple[Stimulus, ...] = ()
    valves: tuple[ValveChange, ...] = ()
    max_duration_samples: int | None = None  # > duration for a gated (extendable) phase
    # kind-specific settings as plain data, e.g. induction {"protocol": "tbs", "pulses": 120};
    # io_curve {"rule": "percent_of_max", "percent": 40}; gated baseline {"stability": {...},
    # "on_unstable": "abort" | "proceed" | "pause"}; drug {"drug": "basimglurant", "concentration_uM": 0.01}
    info: dict = field(default_factory=dict, compare=False)

    @property
    def gated(self) -> bool:
        return self.max_duration_samples is not None and self.max_duration_samples > self.duration_samples


@dataclass(frozen=True)
class Plan:
    """A complete experiment in samples."""

    name: str
    sample_rate_hz: float
    phases: tuple[Phase, ...]
    pathways: tuple[int, ...] = (0,)
    test_intensity_uA: tuple[float, ...] = (100.0,)
    pulse_width_samples: int = 2
    biphasic: bool = False
    sweep_pre_samples: int = 400
    sweep_post_samples: int = 1600
    metadata: dict = field(default_factory=dict, compare=False)
    # closed-loop settings as plain data (alarm rules, allowed operator actions); read by the controller.
    # From the protocol's [alarms] table: {"alarms": {"response_lost_percent": float | None (alarm when
    # the response is below this % of baseline ...), "response_lost_sweeps": int (... for this many
    # consecutive sweeps), "response_lost_action", "noise_max_uV": float | None (baseline noise RMS),
    # "noise_action", "volley_change_percent": float | None (fiber volley change vs baseline),
    # "volley_action"}}; actions are "continue" | "pause" | "stop"; None disables an alarm.
    closed_loop: dict = field(default_factory=dict, compare=False)
    # detector window overrides from the protocol's [analysis] table (rig.detector.measurement.Windows.from_dict)
    analysis_windows: dict = field(default_factory=dict, compare=False)
    # each pathway's own detector windows (rig pathway index → overrides on top of analysis_windows), from
    # the protocol's [analysis.pathways.NAME.windows] tables (rig.detector.windows.PathwayWindows)
    pathway_windows: dict = field(default_factory=dict, compare=False)
    # names of the rig's pathways, indexed like Stimulus.pathway (e.g. ("S1", "S2")); may be empty
    pathway_names: tuple[str, ...] = ()

    @property
    def duration_samples(self) -> int:
        """Planned duration (phases at their minimum length)."""
        return sum(p.duration_samples for p in self.phases)

    @property
    def duration_s(self) -> float:
        return self.duration_samples / self.sample_rate_hz

    def phase_starts(self) -> list[int]:
        """Planned start sample of each phase."""
        starts, t = [], 0
        for p in self.phases:
            starts.append(t)
            t += p.duration_samples
        return starts

    def max_sweep_samples(self) -> int:
        """Longest sweep any stimulus of the plan produces (sizes the engine's ring buffer)."""
        longest = self.sweep_pre_samples + self.sweep_post_samples
        for p in self.phases:
            if p.test is not None:
                longest = max(longest, self.sweep_pre_samples + p.test.pulse_offsets[-1] + self.sweep_post_samples)
            for s in p.stimuli:
                a, b = s.sweep_bounds()
                longest = max(longest, b - a)
        return longest
