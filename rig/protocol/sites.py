"""Recording sites of a multi-slice rig: ``[[site]]`` entries of the rig file, as data.

A site is one slice in its own chamber: its field input (an ``[[ai]]`` of kind ``field``, with its
``gain`` or gain ``telegraph``), the isolators (``[[stim]]`` entries) that stimulate it, their
current monitors, and optionally its perfusion valves. Every site runs its own protocol on the
shared device and sample clock and gets its own recording.

:func:`site_rig` turns one site into the single-slice rig file it is equivalent to (its own
inputs, outputs and ``[sim] seed_offset``), so a site's recording is a slice's recording: the
same protocol and seed on that rig file alone gives the same samples.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

RigConfig = Any  # rig.protocol.rigfile.RigConfig (which holds the sites: no import back)

MAX_SITES = 16


class SiteCfg(BaseModel):
    """One recording site (slice): ``[[site]]`` in the rig file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$",
                      description="site name used by --site NAME=PROTOCOL, rig ctl --site and file names")
    ai: str = Field(min_length=1, description="name of the site's field [[ai]] (its gain or telegraph comes with it)")
    stim: list[str] = Field(min_length=1, max_length=8, description="pathway names of the site's [[stim]] entries")
    pathways: list[str] | None = Field(None, min_length=1, max_length=8,
                                       description="names the site's protocols use for those stimuli "
                                                   "(default S1, S2, …)")
    valves: list[str] = Field([], max_length=32, description="names of the site's perfusion [[valves]]")
    seed_offset: int | None = Field(None, ge=0, le=2**20,
                                    description="simulated slice: added to [sim] seed_offset (default: the "
                                                "site's position, 0, 1, 2, …)")

    def protocol_pathways(self) -> list[str]:
        return list(self.pathways) if self.pathways is not None else [f"S{k + 1}" for k in range(len(self.stim))]


def check_sites(rig: RigConfig) -> None:
    """Every site's references resolve, and every input and output belongs to at most one site
    (every [[stim]] to exactly one). Raises ValueError naming the site and the key."""
    sites = rig.site
    if not sites:
        return
    if len(sites) > MAX_SITES:
        raise ValueError(f"site: {len(sites)} sites; at most {MAX_SITES}")
    names = [s.name for s in sites]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"site name used twice: {', '.join(dup)}")
    ai = {a.name: a for a in rig.ai}
    stim = set(rig.pathway_names())
    valves = set(rig.valve_names())
    owner: dict[str, str] = {}

    def claim(what: str, key: str, site: str) -> None:
        if key in owner:
            raise ValueError(f"site {site!r}: {what} {key!r} already belongs to site {owner[key]!r}")
        owner[key] = site

    for s in sites:
        a = ai.get(s.ai)
        if a is None or a.kind != "field":
            fields = [n for n, x in ai.items() if x.kind == "field"]
            raise ValueError(f"site {s.name!r}: ai = {s.ai!r} must name a field [[ai]] (have: {', '.join(fields)})")
        claim("ai", s.ai, s.name)
        if a.telegraph is not None:
            claim("ai", a.telegraph, s.name)
        for pw in s.stim:
            if pw not in stim:
                raise ValueError(f"site {s.name!r}: stim {pw!r} is not a [[stim]] pathway "
                                 f"(have: {', '.join(sorted(stim))})")
            claim("stim", pw, s.name)
        for v in s.valves:
            if v not in valves:
                raise ValueError(f"site {s.name!r}: valve {v!r} is not a [[valves]] name "
                                 f"(have: {', '.join(sorted(valves))})")
            claim("valve", v, s.name)
        if s.pathways is not None:
            if len(s.pathways) != len(s.stim):
                raise ValueError(f"site {s.name!r}: pathways has {len(s.pathways)} names for "
                                 f"{len(s.stim)} stim entries")
            if len(set(s.pathways)) != len(s.pathways):
                raise ValueError(f"site {s.name!r}: pathways names must be distinct")
    orphans = [pw for pw in rig.pathway_names() if pw not in owner]
    if orphans:
        raise ValueError(f"stim {', '.join(orphans)}: belongs to no [[site]] (every stimulus output needs its site)")
    for a in rig.ai:
        if a.kind == "monitor" and a.name in owner:
            raise ValueError(f"ai {a.name!r}: a monitor belongs to the site of its pathway")
        if a.kind == "field" and a.name not in owner:
            raise ValueError(f"ai {a.name!r}: a field input that belongs to no [[site]]")


def site_index(rig: RigConfig, name: str) -> int:
    for k, s in enumerate(rig.site):
        if s.name == name:
            return k
    raise ValueError(f"site {name!r} is not in the rig file (have: {', '.join(s.name for s in rig.site)})")


def site_rig_data(rig: RigConfig, name: str) -> dict:
    """The single-slice rig file (as TOML data) equivalent to site ``name`` of ``rig``."""
    k = site_index(rig, name)
    s = rig.site[k]
    by_name = {a.name: a for a in rig.ai}
    field = by_name[s.ai]
    rename = dict(zip(s.stim, s.protocol_pathways(), strict=True))
    ai = [field.model_dump(exclude_none=True)]
    if field.telegraph is not None:
        ai.append(by_name[field.telegraph].model_dump(exclude_none=True))
    for a in rig.ai:
        if a.kind == "monitor" and a.pathway in rename:
            ai.append({**a.model_dump(exclude_none=True), "pathway": rename[a.pathway]})
    stims = [{**st.model_dump(exclude_none=True), "pathway": rename[st.pathway]}
             for st in rig.stim if st.pathway in rename]
    triggers = {st.trigger_line for st in rig.stim if st.pathway in rename and st.trigger_line}
    data: dict = {
        "backend": rig.backend, "device": rig.device, "sample_rate_hz": rig.sample_rate_hz,
        "do_lines": [ln for ln in rig.ttl_lines if ln in triggers],
        "ai": ai, "stim": stims,
        "valves": [v.model_dump() for v in rig.valves if v.name in s.valves],
        "limits": rig.limits.model_dump(), "engine": rig.engine.model_dump(),
        "sim": {**rig.sim.model_dump(exclude_none=True),
                "seed_offset": rig.sim.seed_offset + (s.seed_offset if s.seed_offset is not None else k)},
    }
    if not data["do_lines"]:
        del data["do_lines"]
    if not data["valves"]:
        del data["valves"]
    return data


def site_rig(rig: RigConfig, name: str) -> RigConfig:
    """Site ``name`` as a single-slice :class:`RigConfig`."""
    return type(rig).model_validate(site_rig_data(rig, name))


def to_toml(data: dict) -> str:
    """TOML text for rig-file data (scalars, lists of scalars or pairs, tables, arrays of tables)."""
    def val(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        raise TypeError(f"cannot write {type(v).__name__} as TOML")

    head, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append(f"\n[{k}]\n" + "".join(f"{kk} = {val(vv)}\n" for kk, vv in v.items()))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for x in v:
                tables.append(f"\n[[{k}]]\n" + "".join(f"{kk} = {val(vv)}\n" for kk, vv in x.items()))
        else:
            head.append(f"{k} = {val(v)}\n")
    return "".join(head) + "".join(tables)
