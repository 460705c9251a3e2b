"""The protocol language: pydantic models of a protocol file (TOML), checked completely.

Field names carry their units (``interval_s``, ``width_us``, ``intensity_uA``, ``frequency_hz``,
``concentration_uM``, ``duration_min``). Unknown keys, NaN and infinities are errors: a typo never
falls back silently to a default. Every induction parameter is explicit (no defaults).
These models check each field and each phase on its own; the checks that need the rig (limits,
wiring, sample rate) are made when the protocol is expanded (:mod:`rig.protocol.expand`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from rig.protocol import problems as validation

Minutes = Annotated[float, Field(gt=0, le=24 * 60, description="minutes")]
Seconds = Annotated[float, Field(gt=0, le=3600, description="seconds")]
TestInterval = Annotated[float, Field(ge=0.5, le=3600, description="seconds between test pulses")]
MAX_STIMULI = 10_000  # pulses per train, sweeps per I/O curve or paired-pulse phase
Name = Annotated[str, Field(max_length=80)]
Action = Literal["continue", "pause", "stop"]
Genotype = Annotated[str, Field(max_length=40, description="e.g. WT, Fmr1-KO, mGluR5-KO")]
DrugName = Annotated[str, Field(min_length=1, max_length=40, description="e.g. basimglurant, MPEP, DHPG")]
Concentration = Annotated[float, Field(gt=0, le=100_000, description="µM")]
PathwayName = Annotated[str, Field(min_length=1, max_length=16, description="a pathway of the rig file, e.g. S1")]


class _Strict(BaseModel):
    """Strict types: "150" or true is not a number, 1.5 or 2.0 not a count, "yes" not a boolean
    (a TOML integer is a valid float). Pairs are 2-item lists, as TOML writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True, defer_build=True)


Pair = Annotated[list[float], Field(min_length=2, max_length=2, description="[start, end]")]


class Experiment(_Strict):
    name: Name = Field(min_length=1)
    description: str = Field("", max_length=2000)


class Metadata(_Strict):
    """Stored with the data (animal, slice, drug, experimenter)."""

    animal_id: str = Field("", max_length=80)
    genotype: Genotype = "unknown"  # never a silent "WT": the record says what the user said
    sex: Literal["", "F", "M"] = ""
    age_days: int | None = Field(None, ge=0, le=2000)
    slice_id: str = Field("", max_length=80)
    drug: str = Field("", max_length=80)
    concentration_uM: float | None = Field(None, ge=0, le=100_000)
    experimenter: str = Field("", max_length=80)
    species: str = Field("Mus musculus", max_length=80, description="Latin name, as NWB expects")
    notes: str = Field("", max_length=4000)


META_ALIASES = {"animal": "animal_id", "slice": "slice_id"}


def with_meta(meta: Metadata, pairs: list[str]) -> Metadata:
    """``meta`` with ``KEY=VALUE`` overrides (``rig run --meta``; ``animal``/``slice`` for
    ``animal_id``/``slice_id``), validated like the file; ValueError names the key and its rule."""
    upd: dict = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        key = META_ALIASES.get(key.strip(), key.strip())
        if not sep or not key:
            raise ValueError(f"{item!r}: expected KEY=VALUE, e.g. animal=M12")
        if key not in Metadata.model_fields:
            raise ValueError(f"{key!r}: not a metadata field (allowed: animal, slice, "
                             f"{', '.join(Metadata.model_fields)})")
        upd[key] = value
    try:
        return Metadata.model_validate({**meta.model_dump(), **upd}, strict=False)  # KEY=VALUE text
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ValueError(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}") from None


class Stimulation(_Strict):
    """Test-pulse settings shared by every phase."""

    pathways: list[PathwayName] = Field(["S1"], min_length=1, max_length=8,
                                        description="test pulses alternate over these pathways")
    intensity_uA: list[Annotated[float, Field(gt=0, le=10_000)]] = Field(
        [100.0], min_length=1, max_length=8, description="test intensity: one value, or one per pathway")
    width_us: float = Field(100.0, gt=0, le=10_000, description="width of one pulse phase, µs")
    biphasic: bool = Field(False, description="charge-balanced: an equal opposite phase follows each pulse")
    sweep_pre_ms: float = Field(20.0, ge=1, le=1000, description="recorded before each stimulus")
    sweep_post_ms: float = Field(80.0, ge=5, le=2000, description="recorded after the last pulse")
    paired_interval_ms: float | None = Field(
        None, ge=5, le=1000, description="test pulses as pairs: the second pulse this long after the first "
        "(every test sweep measures both responses: the paired-pulse ratio); None: single test pulses")

    @model_validator(mode="after")
    def _check(self) -> Stimulation:
        if len(set(self.pathways)) != len(self.pathways):
            raise ValueError(f"pathways: each pathway once (got {self.pathways})")
        if len(self.intensity_uA) not in (1, len(self.pathways)):
            raise ValueError(f"intensity_uA: give 1 value or one per pathway ({len(self.pathways)}), "
                             f"got {len(self.intensity_uA)}")
        return self


class Alarms(_Strict):
    """Closed-loop alarms (read by the controller from ``Plan.closed_loop["alarms"]``)."""

    response_lost_percent: float | None = Field(
        None, gt=0, le=100, description="alarm when the response is below this % of baseline ...")
    response_lost_sweeps: int = Field(3, ge=1, le=1000, description="... for this many consecutive sweeps")
    response_lost_action: Action = "pause"
    noise_max_uV: float | None = Field(None, gt=0, le=10_000, description="alarm when baseline noise RMS exceeds")
    noise_action: Action = "continue"
    volley_change_percent: float | None = Field(
        None, gt=0, le=1000, description="alarm when the fiber volley changes by more than this % of baseline")
    volley_action: Action = "continue"
    gain_change_action: Action = Field("continue", description="the amplifier's gain telegraph changed during "
                                       "the baseline or follow-up")
    stimulus_mismatch_action: Action = Field("pause", description="the isolator's current monitor disagrees with "
                                             "the command beyond the rig file's tolerance")
    stimulus_missed_action: Action = Field("stop", description="a scheduled stimulus was not delivered (outputs "
                                           "late, output underflow); the run never ends 'completed' then")


# -- phases ------------------------------------------------------------------------------------
class _Phase(_Strict):
    name: Name = ""


class _Tested(_Phase):
    interval_s: TestInterval = Field(20.0, description="between consecutive test pulses (pathways alternate)")


class Stability(_Strict):
    """Baseline stability criterion (closed-loop gate)."""

    max_drift_percent_per_10min: float = Field(5.0, gt=0, le=100)
    max_halves_diff_percent: float = Field(10.0, gt=0, le=100)
    window_min: float = Field(20.0, gt=0, le=600)


class BaselinePhase(_Tested):
    kind: Literal["baseline"]
    duration_min: Minutes = Field(description="minimum duration")
    max_duration_min: Minutes | None = Field(None, description="a gated baseline may extend up to this")
    stability: Stability | None = None
    on_unstable: Literal["abort", "proceed", "pause"] = "proceed"

    @model_validator(mode="after")
    def _check(self) -> BaselinePhase:
        if self.max_duration_min is not None and self.max_duration_min < self.duration_min:
            raise ValueError(f"max_duration_min ({self.max_duration_min}) must be ≥ duration_min "
                             f"({self.duration_min})")
        if self.stability is not None:
            longest = self.max_duration_min or self.duration_min
            if self.stability.window_min > longest:
                raise ValueError(f"stability.window_min ({self.stability.window_min}) is longer than the "
                                 f"baseline can last ({longest} min)")
        return self


class FollowUpPhase(_Tested):
    kind: Literal["follow_up"]
    duration_min: Minutes


class DrugPhase(_Tested):
    """Wash a drug in (test pulses continue); it stays on until a ``washout`` phase."""

    kind: Literal["drug"]
    drug: DrugName
    concentration_uM: Concentration
    wash_in_min: Minutes = Field(description="pre-incubation before the next phase")
    pre_incubation_min: float = Field(0.0, ge=0.0, le=600.0, description="minutes the slice sat in the drug "
                                      "before the recording started (first phase only)")
    valve: str | None = Field(None, description="valve name from the rig file; None = manual perfusion")


class WashoutPhase(_Tested):
    """Stop a drug (close its valve); test pulses continue."""

    kind: Literal["washout"]
    drug: DrugName | None = Field(None, description="None: every drug that is on")
    duration_min: Minutes


class ChemicalPhase(_Tested):
    """Chemical induction, e.g. DHPG 100 µM for 5 min, with test pulses continuing; then off."""

    kind: Literal["chemical"]
    drug: DrugName
    concentration_uM: Concentration
    duration_min: Minutes
    valve: str | None = None


class PercentOfMax(_Strict):
    rule: Literal["percent_of_max"]
    percent: float = Field(gt=0, le=100, description="test intensity giving this % of the maximal fEPSP slope")


class BelowPopSpike(_Strict):
    rule: Literal["below_pop_spike"]
    margin_percent: float = Field(10.0, ge=0, le=90, description="this % below the pop-spike threshold")


IntensityRule = Annotated[PercentOfMax | BelowPopSpike, Field(discriminator="rule")]


class IOCurvePhase(_Phase):
    """Input–output curve: each intensity ``repeats`` times, ascending, pathways alternating."""

    kind: Literal["io_curve"]
    intensities_uA: list[Annotated[float, Field(gt=0, le=10_000)]] | None = Field(None, min_length=1,
                                                                                 max_length=200)
    start_uA: float | None = Field(None, gt=0, le=10_000)
    stop_uA: float | None = Field(None, gt=0, le=10_000)
    step_uA: float | None = Field(None, gt=0, le=10_000)
    repeats: int = Field(3, ge=1, le=100)
    interval_s: Seconds = 10.0
    pathways: list[PathwayName] | None = Field(None, min_length=1, description="None: stimulation.pathways")
    set_intensity: IntensityRule | None = Field(None, description="closed loop: set the test intensity after")

    @model_validator(mode="after")
    def _check(self) -> IOCurvePhase:
        rng = (self.start_uA, self.stop_uA, self.step_uA)
        if self.intensities_uA is not None:
            if any(v is not None for v in rng):
                raise ValueError("give either intensities_uA or start_uA/stop_uA/step_uA, not both")
        elif any(v is None for v in rng):
            raise ValueError("give intensities_uA, or all of start_uA, stop_uA and step_uA")
        else:
            if self.stop_uA < self.start_uA:
                raise ValueError(f"stop_uA ({self.stop_uA}) must be ≥ start_uA ({self.start_uA})")
            if (self.stop_uA - self.start_uA) / self.step_uA + 1 > 200:
                raise ValueError("more than 200 intensities: use a larger step_uA")
        n = len(self.intensities()) * self.repeats * len(self.pathways or [1])
        if n > MAX_STIMULI:
            raise ValueError(f"{n} sweeps: at most {MAX_STIMULI} (fewer intensities or repeats)")
        return self

    def intensities(self) -> list[float]:
        if self.intensities_uA is not None:
            return list(self.intensities_uA)
        n = int((self.stop_uA - self.start_uA) / self.step_uA + 1e-9) + 1
        return [round(self.start_uA + k * self.step_uA, 6) for k in range(n)]


class PairedPulsePhase(_Phase):
    kind: Literal["paired_pulse"]
    intervals_ms: list[Annotated[float, Field(gt=0, le=2000)]] = Field(min_length=1, max_length=50)
    repeats: int = Field(3, ge=1, le=100)
    interval_s: Seconds = 20.0
    pathways: list[PathwayName] | None = Field(None, min_length=1)


class _Induction(_Phase):
    kind: Literal["induction"]
    pathway: PathwayName = Field(description="the pathway induced (S2 stays a control)")
    intensity_uA: float | None = Field(None, gt=0, le=10_000, description="None: the pathway's test intensity")
    settle_s: float = Field(2.0, ge=0, le=600, description="pause after the last pulse before the next phase")
    on_pause: Literal["hold", "skip"] = Field(
        "hold", description="stimulation paused when the induction is due: hold = wait and deliver it after the "
                            "resume; skip = its pulses are not delivered (recorded as skipped)")


class _Bursts(_Induction):
    pulses_per_burst: int = Field(ge=1, le=1000)
    intra_burst_hz: float = Field(gt=0, le=10_000)
    bursts: int = Field(ge=1, le=1000)
    burst_interval_ms: float | None = Field(None, gt=0, le=60_000, description="between burst onsets")
    burst_hz: float | None = Field(None, gt=0, le=1000, description="alternative to burst_interval_ms")
    trains: int = Field(ge=1, le=100)
    train_interval_s: float | None = Field(None, gt=0, le=3600, description="between train onsets")

    @model_validator(mode="after")
    def _check(self) -> _Bursts:
        if self.bursts > 1 and (self.burst_interval_ms is None) == (self.burst_hz is None):
            raise ValueError("give exactly one of burst_interval_ms and burst_hz")
        if self.trains > 1 and self.train_interval_s is None:
            raise ValueError("train_interval_s is required when trains > 1")
        if self.pulses_per_burst * self.bursts > MAX_STIMULI:
            raise ValueError(f"{self.pulses_per_burst * self.bursts} pulses per train: at most {MAX_STIMULI}")
        return self

    def burst_interval_s(self) -> float:
        if self.burst_interval_ms is not None:
            return self.burst_interval_ms / 1000
        return 1.0 / self.burst_hz if self.burst_hz else 0.0


class TBSInduction(_Bursts):
    """Theta burst: bursts of pulses at high frequency, bursts at theta rhythm."""

    pattern: Literal["tbs"]


class TrainInduction(_Bursts):
    """Generic bursts-and-trains pattern."""

    pattern: Literal["train"]


class HFSInduction(_Induction):
    """High-frequency trains, e.g. 100 pulses at 100 Hz (1 s)."""

    pattern: Literal["hfs"]
    pulses: int = Field(ge=1, le=10_000)
    frequency_hz: float = Field(gt=0, le=10_000)
    trains: int = Field(ge=1, le=100)
    train_interval_s: float | None = Field(None, gt=0, le=3600, description="between train onsets")

    @model_validator(mode="after")
    def _check(self) -> HFSInduction:
        if self.trains > 1 and self.train_interval_s is None:
            raise ValueError("train_interval_s is required when trains > 1")
        return self


class LFSInduction(_Induction):
    """Low-frequency stimulation, e.g. 900 pulses at 1 Hz; recorded as one sweep per pulse."""

    pattern: Literal["lfs"]
    pulses: int = Field(ge=1, le=10_000)
    frequency_hz: float = Field(gt=0, le=10_000)


class PPLFSInduction(_Induction):
    """Paired-pulse LFS, e.g. 900 pairs 50 ms apart at 1 Hz; one sweep per pair."""

    pattern: Literal["pp_lfs"]
    pairs: int = Field(ge=1, le=10_000)
    pair_interval_ms: float = Field(gt=0, le=2000)
    frequency_hz: float = Field(gt=0, le=10_000)


Induction = Annotated[TBSInduction | TrainInduction | HFSInduction | LFSInduction | PPLFSInduction,
                      Field(discriminator="pattern")]

PhaseSpec = Annotated[
    BaselinePhase | FollowUpPhase | DrugPhase | WashoutPhase | ChemicalPhase | IOCurvePhase | PairedPulsePhase
    | Induction,
    Field(discriminator="kind"),
]

PHASE_KINDS = ("io_curve", "baseline", "drug", "washout", "induction", "chemical", "follow_up", "paired_pulse")
PATTERNS = ("tbs", "train", "hfs", "lfs", "pp_lfs")
RULES = ("percent_of_max", "below_pop_spike")
validation.ALLOWED_TAGS.update(kind=PHASE_KINDS, pattern=PATTERNS, rule=RULES)


class Tracking(_Strict):
    """Optional intensity tracking during the baseline only (frozen before the first induction)."""

    enabled: bool = True
    every_sweeps: int = Field(3, ge=1, le=100, description="test sweeps per pathway between adjustments")
    gain: float = Field(0.5, gt=0, le=1, description="fraction of the proportional correction applied")
    max_step_uA: float = Field(10.0, gt=0, le=1000, description="largest change per adjustment (µA)")
    deadband_percent: float = Field(5.0, ge=0, le=100, description="no change while within this % of the target")
    target_slope_mV_per_ms: float | None = Field(
        None, lt=0, description="target fEPSP slope (negative); default: the mean of the first sweeps")


class Analysis(_Strict):
    """Online analysis settings: detector windows (ms from the pulse onset) overriding the defaults."""

    windows: dict[str, Pair | float] = Field(
        default_factory=dict,
        description="e.g. {slope = [2.8, 4.2], baseline = [-5, -0.5], max_slope_width_ms = 0.8}")
    auto_windows: bool = Field(False, description="place the windows from the landmarks of the first "
                               "settle_sweeps baseline sweeps of each pathway and apply them before the baseline "
                               "counts (windows given in `windows` or by --window stay as given)")
    settle_sweeps: int = Field(10, ge=2, le=100, description="baseline test sweeps per pathway averaged for the "
                               "window proposal; with auto_windows they do not count in the baseline")
    average: int = Field(1, ge=1, le=100, description="also measure the average of every N consecutive test "
                         "sweeps of each pathway (1: off)")

    @model_validator(mode="after")
    def _windows_valid(self) -> Analysis:
        from rig.detector.measurement import Windows

        Windows.from_dict(dict(self.windows))  # raises ValueError naming the window
        return self


class Protocol(_Strict):
    """A protocol file: an ordered list of phases and the settings they share."""

    experiment: Experiment
    metadata: Metadata = Metadata()
    stimulation: Stimulation = Stimulation()
    alarms: Alarms | None = None
    tracking: Tracking | None = None
    analysis: Analysis = Analysis()
    phases: list[PhaseSpec] = Field(min_length=1, max_length=100)
    _source: tuple[str, str] = PrivateAttr(default=("", ""))  # (file name, text) it was parsed from
