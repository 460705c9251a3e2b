"""The rig file (rig.toml): wiring, gains and the safety limits of one rig."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rig.errors import UserError
from rig.stimulus import OutputMap, StimLimits
from rig.validation import format_validation_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AIChannel(_Strict):
    name: str
    channel: str
    range_V: float = Field(10.0, gt=0, le=10.0)
    gain: float = Field(1000.0, gt=0, description="amplifier gain, V at the ADC per V at the electrode")
    terminal: Literal["differential", "rse", "nrse", "pseudodifferential", "default"] = "differential"


class StimChannel(_Strict):
    pathway: str
    ao: str
    uA_per_V: float = Field(100.0, gt=0, description="isolator scaling, µA per V of command")
    trigger_line: str | None = None


class Limits(_Strict):
    max_intensity_uA: float = Field(800.0, gt=0, le=10_000)
    max_width_us: float = Field(500.0, gt=0, le=10_000)
    max_frequency_hz: float = Field(200.0, gt=0, le=1000)
    max_train_s: float = Field(5.0, gt=0, le=60)
    max_charge_uC: float = Field(0.25, gt=0, le=10)


class EngineCfg(_Strict):
    horizon_ms: float = Field(300.0, ge=20, le=5000)
    block_ms: float = Field(50.0, ge=1, le=1000)


class SimCfg(_Strict):
    model: Literal["simple", "realistic"] = "simple"


class RigConfig(_Strict):
    backend: Literal["sim", "nidaq"] = "sim"
    device: str = "Dev1"
    sample_rate_hz: float = Field(20_000.0, ge=1000, le=250_000)
    ai: list[AIChannel] = Field(min_length=1)
    stim: list[StimChannel] = Field(min_length=1)
    do_lines: list[str] = []
    limits: Limits = Limits()
    engine: EngineCfg = EngineCfg()
    sim: SimCfg = SimCfg()

    def pathway_names(self) -> list[str]:
        return [s.pathway for s in self.stim]

    def output_map(self) -> OutputMap:
        trig = tuple(self.do_lines.index(s.trigger_line) if s.trigger_line in self.do_lines else None
                     for s in self.stim)
        return OutputMap(
            ao_for_pathway=tuple(range(len(self.stim))),
            uA_per_V=tuple(s.uA_per_V for s in self.stim),
            n_ao=len(self.stim),
            n_do=len(self.do_lines),
            trigger_line_for_pathway=trig,
        )

    def stim_limits(self) -> StimLimits:
        lim = self.limits
        return StimLimits(lim.max_intensity_uA, lim.max_width_us, lim.max_frequency_hz, lim.max_train_s,
                          lim.max_charge_uC)


def default_rig_text() -> str:
    return resources.files("rig.data").joinpath("sim_rig.toml").read_text(encoding="utf-8")


def load_rig(path: str | Path | None) -> tuple[RigConfig, str]:
    """Parse and validate a rig file (the shipped simulator rig when ``path`` is None)."""
    if path is None:
        text, name = default_rig_text(), "<default sim rig>"
    else:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{p}: cannot read rig file ({exc.__class__.__name__}: {exc})") from exc
        name = str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{name}: not valid TOML: {exc}") from exc
    try:
        return RigConfig.model_validate(data), text
    except ValidationError as exc:
        raise UserError(format_validation_error(name, text, exc)) from exc
