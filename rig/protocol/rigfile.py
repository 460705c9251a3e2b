"""The rig file (rig.toml): wiring, gains and the safety limits of one rig.

Layout (every key is checked; unknown keys are errors)::

    backend = "sim" | "nidaq"        device = "Dev1"        sample_rate_hz = 20000.0
    [[ai]]     name, channel, terminal, range_V, gain          # amplifier gain → mV scaling
    do_lines = ["port0/line0"]                                 # TTL lines (optional list)
    [[stim]]   pathway = "S1", ao = "ao0", uA_per_V = 100.0    # analog command to the isolator
               trigger_line = "port0/line0"                    # optional TTL gate (or TTL only: no ao)
    [[valves]] name = "drug_A", line = "port0/line4"           # perfusion valves (DO lines)
    [limits]   max_intensity_uA, max_width_us, max_frequency_hz, max_train_s, max_charge_uC
    [engine]   horizon_ms, block_ms
    [sim]      model, genotype, electrode, seed_offset         # the simulated slice (backend "sim")

Digital output lines are numbered: the TTL lines first (``do_lines`` in file order, then any
``trigger_line`` not listed there), then the valves (file order); the property
:attr:`RigConfig.do_lines` lists every physical DO line of the device in that order.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rig.core.errors import UserError
from rig.protocol.problems import InvalidFile, Problem, decode_text, problems_from_validation
from rig.stimulus import OutputMap, StimLimits


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AIChannel(_Strict):
    name: str = Field(min_length=1)
    channel: str = Field(min_length=1, description="physical AI channel, e.g. 'ai0'")
    range_V: float = Field(10.0, gt=0, le=10.0, description="ADC input range ± V")
    gain: float = Field(1000.0, gt=0, le=1e6, description="amplifier gain, V at the ADC per V at the electrode")
    terminal: Literal["differential", "rse", "nrse", "pseudodifferential", "default"] = "differential"


class StimChannel(_Strict):
    pathway: str = Field(min_length=1, description="pathway name used by protocols, e.g. 'S1'")
    ao: str | None = Field(None, description="AO channel driving the isolator's analog command; None = TTL only")
    uA_per_V: float = Field(100.0, gt=0, le=1e5, description="isolator scaling, µA per V of command")
    trigger_line: str | None = Field(None, description="DO line gating the isolator (high during each pulse)")
    resolution_uA: float | None = Field(None, gt=0, le=100, description="isolator step (µA); chosen intensities "
                                        "are rounded to it (default 1 µA)")

    @model_validator(mode="after")
    def _needs_output(self) -> StimChannel:
        if self.ao is None and self.trigger_line is None:
            raise ValueError("a stimulus output needs 'ao' (analog command) or 'trigger_line' (TTL only)")
        return self


class ValveLine(_Strict):
    name: str = Field(min_length=1, description="name protocols use, e.g. 'drug_A'")
    line: str = Field(min_length=1, description="physical DO line, e.g. 'port0/line4'")


class Limits(_Strict):
    max_intensity_uA: float = Field(800.0, gt=0, le=10_000)
    max_width_us: float = Field(500.0, gt=0, le=10_000)
    max_frequency_hz: float = Field(200.0, gt=0, le=1000)
    max_train_s: float = Field(5.0, gt=0, le=60)
    max_charge_uC: float = Field(0.25, gt=0, le=10, description="charge per pulse phase, µC")


class EngineCfg(_Strict):
    horizon_ms: float = Field(300.0, ge=20, le=5000)
    block_ms: float = Field(50.0, ge=1, le=1000)


class SimCfg(_Strict):
    """The simulated slice (names follow ``drivers.sim.slice.make_slice``)."""

    model: Literal["simple", "realistic"] = "simple"
    genotype: Literal["WT", "Fmr1-KO", "mGluR5-KO"] | None = Field(
        None, description="None: the protocol's metadata.genotype")
    electrode: Literal["concentric", "tungsten"] = "concentric"
    seed_offset: int = Field(0, ge=0, le=2**31)


class RigConfig(_Strict):
    backend: Literal["sim", "nidaq"] = "sim"
    device: str = Field("Dev1", min_length=1)
    sample_rate_hz: float = Field(20_000.0, ge=1000, le=250_000)
    ai: list[AIChannel] = Field(min_length=1, max_length=32)
    stim: list[StimChannel] = Field(min_length=1, max_length=8)
    ttl_lines: list[str] = Field([], alias="do_lines", max_length=32,
                                 description="TTL output lines (stimulus triggers)")
    valves: list[ValveLine] = Field([], max_length=32)
    limits: Limits = Limits()
    engine: EngineCfg = EngineCfg()
    sim: SimCfg = SimCfg()

    @model_validator(mode="after")
    def _unique_names(self) -> RigConfig:
        for what, names in (("stim pathway", [s.pathway for s in self.stim]),
                            ("valve name", [v.name for v in self.valves]),
                            ("DO line", self.do_lines),
                            ("AO channel", [s.ao for s in self.stim if s.ao is not None]),
                            ("AI channel", [a.channel for a in self.ai])):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{what} used twice: {', '.join(dup)}")
        return self

    # -- wiring as the engine and the devices need it ----------------------------------------
    def pathway_names(self) -> list[str]:
        return [s.pathway for s in self.stim]

    def _ttl(self) -> list[str]:
        extra = [s.trigger_line for s in self.stim if s.trigger_line and s.trigger_line not in self.ttl_lines]
        return list(self.ttl_lines) + list(dict.fromkeys(extra))

    @property
    def do_lines(self) -> list[str]:
        """Every physical DO line of the device in output order: TTL lines, then valves."""
        return self._ttl() + [v.line for v in self.valves]

    def valve_names(self) -> list[str]:
        return [v.name for v in self.valves]

    def valve_index(self, name: str) -> int:
        """DO output index of the valve called ``name`` (ValueError if not wired)."""
        return len(self._ttl()) + self.valve_names().index(name)

    def ao_channels(self) -> list[str]:
        """Physical AO channels in output order (pathways with an analog command)."""
        return [s.ao for s in self.stim if s.ao is not None]

    def ao_uA_per_V(self) -> list[float]:
        return [s.uA_per_V for s in self.stim if s.ao is not None]

    def output_map(self) -> OutputMap:
        ao_idx: list[int | None] = []
        k = 0
        for s in self.stim:
            ao_idx.append(k if s.ao is not None else None)
            k += s.ao is not None
        lines = self.do_lines
        ttl = [lines.index(s.trigger_line) if s.trigger_line else None for s in self.stim]
        return OutputMap(
            ao_for_pathway=tuple(ao_idx),
            uA_per_V=tuple(s.uA_per_V for s in self.stim),
            n_ao=k,
            n_do=len(self.do_lines),
            trigger_line_for_pathway=tuple(ttl),
        )

    def stim_limits(self) -> StimLimits:
        lim = self.limits
        return StimLimits(lim.max_intensity_uA, lim.max_width_us, lim.max_frequency_hz, lim.max_train_s,
                          lim.max_charge_uC)


def default_rig_text() -> str:
    return resources.files("rig.data").joinpath("sim_rig.toml").read_text(encoding="utf-8")


def parse_rig(text: str, name: str) -> RigConfig:
    """Validate rig-file text; raise :class:`InvalidFile` with one problem per line."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InvalidFile(name, text, [Problem((), f"not valid TOML: {exc or 'nested too deeply'}")]) from exc
    try:
        return RigConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidFile(name, text, problems_from_validation(exc)) from exc


def load_rig(path: str | Path | None) -> tuple[RigConfig, str]:
    """Parse and validate a rig file (the shipped simulator rig when ``path`` is None)."""
    if path is None:
        text, name = default_rig_text(), "<default sim rig>"
    else:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise UserError(f"{p}: cannot read rig file ({exc.strerror or exc})") from exc
        text, name = decode_text(raw, str(p)), str(p)
    return parse_rig(text, name), text
