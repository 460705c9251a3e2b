"""The rig file (rig.toml): wiring, gains and the safety limits of one rig.

Layout (every key is checked; unknown keys are errors)::

    backend = "sim" | "nidaq"        device = "Dev1"        sample_rate_hz = 20000.0
    [[ai]]     name, channel, terminal, range_V, kind = "field" | "telegraph" | "monitor"
               field: gain (required) or telegraph = "<name of the telegraph [[ai]]>"
               telegraph: telegraph_table = [[V, gain], ...], telegraph_tolerance_V
               monitor: pathway, monitor_uA_per_V, tolerance_percent (isolator current monitor)
    do_lines = ["port0/line0"]                                 # TTL lines (optional list)
    [[stim]]   pathway = "S1", ao = "ao0", uA_per_V = 100.0    # analog command to the isolator
               ao_range_V = 10.0                               # AO range ± V (stimuli must fit)
               trigger_line = "port0/line0"                    # optional TTL gate (or TTL only: no ao)
    [[valves]] name = "drug_A", line = "port0/line4"           # perfusion valves (DO lines)
    [limits]   max_intensity_uA, max_width_us, max_frequency_hz, max_train_s, max_charge_uC
    [engine]   horizon_ms, block_ms
    [sim]      model, genotype, electrode, seed_offset         # the simulated slice (backend "sim")
    [[site]]   name, ai, stim, pathways, valves, seed_offset   # multi-slice rigs (rig.protocol.sites)
    site_guard_s = 1.0                                         # least time between stimuli of two sites
    [mea]      rows, cols, pitch_um, missing, channels, gain, range_V, terminal, field_electrode,
               stim_electrodes                                 # MEA mode: one slice, ≤ 64 electrodes (rig.protocol.mea)

Digital output lines are numbered: the TTL lines first (``do_lines`` in file order, then any
``trigger_line`` not listed there), then the valves (file order); the property
:attr:`RigConfig.do_lines` lists every physical DO line of the device in that order.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rig.core.errors import UserError
from rig.core.mea import MEALayout
from rig.core.wiring import Monitor, Telegraph, WiringChecks
from rig.protocol.mea import MEACfg, check_mea, with_mea_inputs
from rig.protocol.problems import InvalidFile, Problem, decode_text, problems_from_validation
from rig.protocol.sites import SiteCfg, check_sites
from rig.stimulus import OutputMap, StimLimits

MAX_AI = 32  # [[ai]] entries of a rig file ([mea] electrodes come on top)


class _Strict(BaseModel):
    """Strict types, as the protocol's (:class:`rig.protocol.models._Strict`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True, defer_build=True)


class AIChannel(_Strict):
    """One analog input of the one AI task (all on the shared sample clock), by ``kind``:

    * ``field`` — the amplifier output: ``gain`` (V at the ADC per V at the electrode), or
      ``telegraph`` naming the ``[[ai]]`` that carries this amplifier's gain telegraph;
    * ``telegraph`` — the amplifier's gain telegraph output: ``telegraph_table`` = [[V, gain], …]
      from the amplifier's manual, matched within ``telegraph_tolerance_V``;
    * ``monitor`` — an isolator's current monitor output for ``pathway``: ``monitor_uA_per_V``
      (µA delivered per V at the monitor), a mismatch beyond ``tolerance_percent`` is an alarm.
    """

    name: str = Field(min_length=1)
    channel: str = Field(min_length=1, description="physical AI channel, e.g. 'ai0'")
    kind: Literal["field", "telegraph", "monitor"] = Field("field", description="what the input carries")
    range_V: float = Field(10.0, gt=0, le=10.0, description="ADC input range ± V")
    gain: float | None = Field(None, gt=0, le=1e6, description="field: amplifier gain, V at the ADC per V at the "
                               "electrode (required without a telegraph)")
    telegraph: str | None = Field(None, min_length=1, description="field: name of the [[ai]] carrying this "
                                  "amplifier's gain telegraph")
    telegraph_table: list[Annotated[list[float], Field(min_length=2, max_length=2)]] | None = Field(
        None, min_length=1, max_length=64, description="telegraph: [[V, gain], ...] from the amplifier's manual")
    telegraph_tolerance_V: float = Field(0.2, gt=0, le=2.0, description="telegraph: a reading this close to an "
                                         "entry selects its gain")
    pathway: str | None = Field(None, min_length=1, description="monitor: the [[stim]] pathway of this isolator")
    monitor_uA_per_V: float | None = Field(None, gt=0, le=1e5, description="monitor: µA delivered per V at "
                                           "the isolator's monitor output")
    tolerance_percent: float = Field(10.0, gt=0, le=100, description="monitor: allowed |delivered − commanded| "
                                     "as % of the command")
    terminal: Literal["differential", "rse", "nrse", "pseudodifferential", "default"] = "differential"

    @model_validator(mode="after")
    def _by_kind(self) -> AIChannel:
        own = {"field": ("gain", "telegraph"), "telegraph": ("telegraph_table",),
               "monitor": ("pathway", "monitor_uA_per_V")}
        for kind, keys in own.items():
            if kind != self.kind:
                for k in keys:
                    if getattr(self, k) is not None:
                        raise ValueError(f"ai {self.name!r}: {k!r} belongs to kind = \"{kind}\", not \"{self.kind}\"")
        if self.kind == "field" and self.gain is None and self.telegraph is None:
            raise ValueError(f"ai {self.name!r}: 'gain' is required (the amplifier's gain, e.g. 1000) unless "
                             "'telegraph' names the [[ai]] carrying its gain telegraph")
        if self.kind == "telegraph" and self.telegraph_table is None:
            raise ValueError(f"ai {self.name!r}: a telegraph needs 'telegraph_table' = [[V, gain], ...]")
        if self.kind == "telegraph" and any(g <= 0 for _, g in self.telegraph_table or ()):
            raise ValueError(f"ai {self.name!r}: every telegraph_table gain must be > 0")
        if self.kind == "monitor" and (self.pathway is None or self.monitor_uA_per_V is None):
            raise ValueError(f"ai {self.name!r}: a monitor needs 'pathway' and 'monitor_uA_per_V'")
        return self


class StimChannel(_Strict):
    pathway: str = Field(min_length=1, description="pathway name used by protocols, e.g. 'S1'")
    ao: str | None = Field(None, description="AO channel driving the isolator's analog command; None = TTL only")
    uA_per_V: float = Field(100.0, gt=0, le=1e5, description="isolator scaling, µA per V of command")
    ao_range_V: float = Field(10.0, gt=0, le=10.0, description="range ± V of the AO channel (the isolator's "
                              "command input may accept less); every stimulus must fit: µA / uA_per_V ≤ this")
    trigger_line: str | None = Field(None, description="DO line gating the isolator (high during each pulse)")
    resolution_uA: float | None = Field(None, gt=0, le=100, description="isolator step (µA); chosen intensities "
                                        "are rounded to it (default 1 µA)")

    @model_validator(mode="after")
    def _needs_output(self) -> StimChannel:
        if self.ao is None and self.trigger_line is None:
            raise ValueError("a stimulus output needs 'ao' (analog command) or 'trigger_line' (TTL only)")
        return self

    @property
    def ttl_only(self) -> bool:
        """Amplitude and width are set on the isolator's front panel; the rig only triggers it."""
        return self.ao is None


class ValveLine(_Strict):
    name: str = Field(min_length=1, description="name protocols use, e.g. 'drug_A'")
    line: str = Field(min_length=1, description="physical DO line, e.g. 'port0/line4'")


class Limits(_Strict):
    max_intensity_uA: float = Field(800.0, gt=0, le=10_000)
    max_width_us: float = Field(500.0, gt=0, le=10_000)
    max_frequency_hz: float = Field(200.0, gt=0, le=1000)
    max_train_s: float = Field(5.0, gt=0, le=60)
    max_charge_uC: float = Field(0.25, gt=0, le=10, description="charge per pulse phase, µC")


#: At ``--speed max`` the device reads blocks of at least this much (rig.experiment.assemble).
MAX_SPEED_BLOCK_MS = 100.0


class EngineCfg(_Strict):
    """Write-ahead timing. The outputs must stay a whole device block ahead of acquisition while
    the next block is rendered, so ``horizon_ms`` ≥ 2 × the block: ``block_ms`` paced, and
    :data:`MAX_SPEED_BLOCK_MS` at ``--speed max`` (a shorter horizon silently lost stimuli)."""

    horizon_ms: float = Field(300.0, ge=20, le=5000)
    block_ms: float = Field(50.0, ge=1, le=1000)

    @model_validator(mode="after")
    def _horizon_covers_two_blocks(self) -> EngineCfg:
        need = 2 * max(self.block_ms, MAX_SPEED_BLOCK_MS)
        if self.horizon_ms < need:
            raise ValueError(f"horizon_ms {self.horizon_ms:g} ms cannot keep the outputs ahead: it must be at least "
                             f"2 × the device block ({need:g} ms with block_ms {self.block_ms:g} and the "
                             f"{MAX_SPEED_BLOCK_MS:g} ms blocks of --speed max)")
        return self


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
    ai: list[AIChannel] = Field([], max_length=MAX_AI + 64, description="analog inputs (with [mea]: its "
                                "electrodes come first, then these)")
    stim: list[StimChannel] = Field(min_length=1, max_length=8)
    ttl_lines: list[str] = Field([], alias="do_lines", max_length=32,
                                 description="TTL output lines (stimulus triggers)")
    valves: list[ValveLine] = Field([], max_length=32)
    limits: Limits = Limits()
    engine: EngineCfg = EngineCfg()
    sim: SimCfg = SimCfg()
    site: list[SiteCfg] = Field([], max_length=16, description="recording sites of a multi-slice rig "
                                "(docs/multi-site.md)")
    site_guard_s: float = Field(1.0, ge=0, le=60, description="multi-site: least time between stimuli of two sites")
    mea: MEACfg | None = Field(None, description="MEA mode: one slice on a multi-electrode array (docs/mea.md)")

    @model_validator(mode="before")
    @classmethod
    def _mea_inputs(cls, data: object) -> object:
        return with_mea_inputs(data)

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
        check_mea(self)
        if len(self.ai) - (len(self.mea.electrodes) if self.mea else 0) > MAX_AI:
            raise ValueError(f"ai: at most {MAX_AI} [[ai]] entries")
        self._check_wiring_refs()
        check_sites(self)
        return self

    def _check_wiring_refs(self) -> None:
        names = [a.name for a in self.ai]
        if len(set(names)) != len(names):
            raise ValueError(f"AI name used twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
        if self.ai[0].kind != "field":
            raise ValueError(f"ai {self.ai[0].name!r}: the first [[ai]] must be the field potential (kind = \"field\")")
        by_name = {a.name: a for a in self.ai}
        for a in self.ai:
            if a.telegraph is not None:
                t = by_name.get(a.telegraph)
                if t is None or t.kind != "telegraph":
                    raise ValueError(f"ai {a.name!r}: telegraph = {a.telegraph!r} must name an [[ai]] with "
                                     f"kind = \"telegraph\" (have: {', '.join(names)})")
        if not self.site and sum(a.telegraph is not None for a in self.ai) > 1:  # a site each: rig.protocol.sites
            raise ValueError("only one field channel can follow a gain telegraph")
        pws = self.pathway_names()
        for a in self.ai:
            if a.kind == "monitor" and a.pathway not in pws:
                raise ValueError(f"ai {a.name!r}: pathway = {a.pathway!r} is not a [[stim]] pathway "
                                 f"(have: {', '.join(pws)})")
        mons = [a.pathway for a in self.ai if a.kind == "monitor"]
        if len(set(mons)) != len(mons):
            raise ValueError("one current monitor per pathway")

    # -- wiring as the engine and the devices need it ----------------------------------------
    def pathway_names(self) -> list[str]:
        return [s.pathway for s in self.stim]

    def mea_layout(self) -> MEALayout | None:
        """The MEA layout (:class:`rig.core.mea.MEALayout`), None without ``[mea]``."""
        return self.mea.layout(self.pathway_names()) if self.mea is not None else None

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
            ao_range_V_for_pathway=tuple(s.ao_range_V for s in self.stim),
        )

    def scale_gains(self) -> list[float]:
        """Gain of each AI's fixed scale (rig file order): a field's ``gain``, or for a field on a
        telegraph without one the telegraph table's first gain (each sweep then carries its own);
        1 for a telegraph or a monitor (stored in mV at the ADC)."""
        by_name = {a.name: a for a in self.ai}
        out = []
        for a in self.ai:
            if a.kind != "field":
                out.append(1.0)
            elif a.gain is not None:
                out.append(a.gain)
            else:
                out.append(float(by_name[a.telegraph].telegraph_table[0][1]))
        return out

    def wiring_checks(self, panel: dict[str, tuple[float, float]] | None = None) -> WiringChecks:
        """The telegraph and monitors the engine reads (AI indices in rig file order)."""
        idx = {a.name: k for k, a in enumerate(self.ai)}
        tel = None
        for k, a in enumerate(self.ai):
            if a.telegraph is not None:
                t = self.ai[idx[a.telegraph]]
                tel = Telegraph(idx[a.telegraph], k, tuple(tuple(e) for e in t.telegraph_table),
                                t.telegraph_tolerance_V)
        pws = self.pathway_names()
        mons = tuple(Monitor(k, pws.index(a.pathway), a.monitor_uA_per_V, a.tolerance_percent)
                     for k, a in enumerate(self.ai) if a.kind == "monitor")
        panel = panel or {}
        return WiringChecks(tel, mons, tuple(panel.get(s.pathway) if s.ttl_only else None for s in self.stim))

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
