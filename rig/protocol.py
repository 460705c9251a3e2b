"""Protocol files (TOML): validated completely, then expanded into a :class:`rig.plan.Plan`.

Field names carry their units (``interval_s``, ``width_us``, ``intensity_uA``, ``frequency_hz``).
Unknown keys are errors: a typo never falls back silently to a default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rig.errors import UserError
from rig.plan import Phase, Plan, Stimulus, TestSchedule
from rig.rigfile import RigConfig
from rig.validation import format_validation_error

PositiveS = Annotated[float, Field(gt=0, le=24 * 3600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Experiment(_Strict):
    name: str
    description: str = ""


class Metadata(_Strict):
    animal_id: str = ""
    genotype: Literal["WT", "Fmr1-KO", "mGluR5-KO"] = "WT"
    sex: Literal["", "F", "M"] = ""
    age_days: int | None = Field(None, ge=0, le=2000)
    slice_id: str = ""
    drug: str = ""
    concentration_uM: float | None = Field(None, ge=0)
    experimenter: str = ""
    notes: str = ""


class Stimulation(_Strict):
    pathways: list[str] = Field(["S1"], min_length=1, max_length=8)
    intensity_uA: list[Annotated[float, Field(gt=0)]] = Field([100.0], min_length=1)
    width_us: float = Field(100.0, gt=0)
    biphasic: bool = False
    sweep_pre_ms: float = Field(20.0, gt=0, le=1000)
    sweep_post_ms: float = Field(80.0, gt=0, le=2000)


class TestPhase(_Strict):
    """Phases made of periodic test pulses (baseline, follow-up)."""

    kind: Literal["baseline", "follow_up"]
    name: str = ""
    duration_min: Annotated[float, Field(gt=0, le=24 * 60)]
    interval_s: PositiveS = 20.0


class InductionPhase(_Strict):
    kind: Literal["induction"]
    name: str = ""
    pattern: Literal["tbs", "hfs", "train"]
    pathway: str = "S1"
    pulses_per_burst: int = Field(4, ge=1, le=1000)
    intra_burst_hz: float = Field(100.0, gt=0)
    bursts: int = Field(10, ge=1, le=1000)
    burst_interval_ms: float = Field(200.0, gt=0)
    trains: int = Field(1, ge=1, le=20)
    train_interval_s: float = Field(20.0, gt=0)
    intensity_uA: float | None = Field(None, gt=0)
    settle_s: float = Field(2.0, ge=0, le=600, description="pause after the last train before the next phase")


PhaseSpec = Annotated[TestPhase | InductionPhase, Field(discriminator="kind")]


class Protocol(_Strict):
    experiment: Experiment
    metadata: Metadata = Metadata()
    stimulation: Stimulation = Stimulation()
    phases: list[PhaseSpec] = Field(min_length=1)


def load_protocol(path: str | Path) -> tuple[Protocol, str]:
    """Read and validate a protocol file; raise UserError naming file:line and field."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UserError(f"{p}: cannot read protocol ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{p}: not valid TOML: {exc}") from exc
    try:
        return Protocol.model_validate(data), text
    except ValidationError as exc:
        raise UserError(format_validation_error(str(p), text, exc)) from exc


def _samples(seconds: float, fs: float) -> int:
    return int(round(seconds * fs))


def _induction_stimuli(ph: InductionPhase, pathway: int, fs: float, width: int, pre: int, post: int,
                       biphasic: bool) -> tuple[list[Stimulus], int]:
    """One Stimulus (sweep) per train; pulse onsets in exact integer samples."""
    isi = _samples(1.0 / ph.intra_burst_hz, fs)
    ibi = _samples(ph.burst_interval_ms / 1000.0, fs)
    offsets = tuple(b * ibi + k * isi for b in range(ph.bursts) for k in range(ph.pulses_per_burst))
    tstep = _samples(ph.train_interval_s, fs)
    stims = [
        Stimulus(sample=pre + t * tstep, pathway=pathway, kind="train", pulse_offsets=offsets,
                 intensity_uA=ph.intensity_uA, width_samples=width, biphasic=biphasic,
                 pre_samples=pre, post_samples=post, label=f"{ph.pattern} train {t + 1}/{ph.trains}")
        for t in range(ph.trains)
    ]
    end = stims[-1].sample + offsets[-1] + post + _samples(ph.settle_s, fs)
    return stims, end


def expand(proto: Protocol, rig: RigConfig, name: str = "") -> Plan:
    """Expand a validated protocol for a rig into a plan (integer samples, no drift)."""
    fs = rig.sample_rate_hz
    st = proto.stimulation
    rig_paths = rig.pathway_names()
    for pw in st.pathways:
        if pw not in rig_paths:
            raise UserError(f"{name}: stimulation.pathways: {pw!r} is not wired in the rig (has {rig_paths})")
    if len(st.intensity_uA) not in (1, len(st.pathways)):
        raise UserError(f"{name}: stimulation.intensity_uA: give 1 value or one per pathway")
    pathways = tuple(rig_paths.index(p) for p in st.pathways)
    intensities = [0.0] * len(rig_paths)
    for k, p in enumerate(pathways):
        intensities[p] = st.intensity_uA[k if len(st.intensity_uA) > 1 else 0]
    width = max(1, _samples(st.width_us * 1e-6, fs))
    pre, post = _samples(st.sweep_pre_ms / 1000, fs), _samples(st.sweep_post_ms / 1000, fs)
    phases = []
    for i, ph in enumerate(proto.phases):
        pname = ph.name or f"{ph.kind}{i + 1}"
        if isinstance(ph, TestPhase):
            interval = _samples(ph.interval_s, fs)
            if interval <= pre + post:
                raise UserError(f"{name}: phases[{i}].interval_s: {ph.interval_s} s is shorter than a sweep "
                                f"({(pre + post) / fs:.3f} s)")
            first = min(interval // 2, pre + _samples(1.0, fs))
            test = TestSchedule(interval_samples=interval, pathways=pathways, first_offset=first)
            phases.append(Phase(pname, ph.kind, _samples(ph.duration_min * 60, fs), test=test))
        else:
            if ph.pathway not in st.pathways:
                raise UserError(f"{name}: phases[{i}].pathway: {ph.pathway!r} not in stimulation.pathways")
            stims, end = _induction_stimuli(ph, rig_paths.index(ph.pathway), fs, width, pre, post, st.biphasic)
            phases.append(Phase(pname, "induction", end, stimuli=tuple(stims),
                                info={"protocol": ph.pattern, "pulses": sum(s.n_pulses for s in stims)}))
    return Plan(
        name=proto.experiment.name, sample_rate_hz=fs, phases=tuple(phases), pathways=pathways,
        test_intensity_uA=tuple(intensities), pulse_width_samples=width, biphasic=st.biphasic,
        sweep_pre_samples=pre, sweep_post_samples=post, metadata=proto.metadata.model_dump(),
    )
