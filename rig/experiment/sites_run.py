"""Run a multi-slice rig: one board, one sample clock, one engine and one recording per site.

``rig run --rig RIG [PROTOCOL] [--site NAME=PROTOCOL ...]``: every ``[[site]]`` of the rig file
runs its own protocol (``--site``, else PROTOCOL) with its own controller (windows, baseline,
closed-loop gate, alarms, intensity, operator commands via ``rig ctl --site NAME``) and its own
file; the sites share the board through :class:`drivers.sites.SharedDevice`, started at the
offsets :func:`rig.protocol.site_guard.interleave` chose so that stimuli of different sites keep
``site_guard_s`` apart. A site that stops (an alarm, an error) zeroes its own outputs; the
others record to their end. The run index (:mod:`rig.storage.run_index`) ties the files together.
"""

from __future__ import annotations

import json
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers.base import Device, DeviceError
from drivers.sites import SharedDevice, SiteMap
from rig.core.errors import RunFailure, UserError
from rig.core.plan import Plan
from rig.experiment.assemble import Assembly, assemble_run, block_samples, make_slice_model
from rig.experiment.runner import analysis_windows, library_versions, warn_silent_faults
from rig.experiment.session import OperatorControl
from rig.experiment.wired_sim import needs_wiring, wire_slice, with_slice_faults
from rig.protocol.load import expand, load_protocol
from rig.protocol.models import with_meta
from rig.protocol.rigfile import MAX_SPEED_BLOCK_MS, RigConfig
from rig.protocol.site_guard import Interleave, interleave, offset_step
from rig.protocol.sites import site_rig, site_rig_data, to_toml
from rig.storage import unique_path
from rig.storage.run_index import SUFFIX, write_index


@dataclass
class SiteSetup:
    """One site ready to run: its single-slice rig, plan and protocol."""

    name: str
    rig: RigConfig
    rig_text: str
    plan: Plan
    protocol_path: Path
    protocol_text: str
    offset: int = 0


@dataclass
class SiteOutcome:
    name: str
    path: Path
    reason: str = "error"
    message: str = ""
    error: BaseException | None = None


@dataclass
class SitesResult:
    index: Path
    sites: list[SiteOutcome] = field(default_factory=list)
    wall_s: float = 0.0
    board_error: BaseException | None = None  # the board failed (every site stopped), e.g. BoardStarved


def parse_site_args(rig: RigConfig, specs: list[str], default: Path | None) -> dict[str, Path]:
    """``NAME=PROTOCOL`` per site (``default`` for the rest); every site needs one."""
    names = [s.name for s in rig.site]
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--site: {spec!r} must be NAME=PROTOCOL, e.g. A=protocols/tbs_ltp.toml")
        if name not in names:
            raise UserError(f"--site: {name!r} is not a [[site]] of the rig file (have: {', '.join(names)})")
        if name in out:
            raise UserError(f"--site: {name!r} given twice")
        out[name] = Path(path)
    missing = [n for n in names if n not in out and default is None]
    if missing:
        raise UserError(f"--site: no protocol for site {', '.join(missing)} (give --site NAME=PROTOCOL or a "
                        "PROTOCOL for every site)")
    return {n: out.get(n, default) for n in names}  # type: ignore[misc]


def prepare_sites(rig: RigConfig, protocols: dict[str, Path], meta: list[str] = (),
                  rig_name: str = "rig file") -> tuple[list[SiteSetup], Interleave]:
    """Load, validate and expand every site's protocol on its own rig; choose the offsets.
    Raises UserError naming the file (or the site) at the first problem."""
    sites: list[SiteSetup] = []
    for s in rig.site:
        srig = site_rig(rig, s.name)
        path = protocols[s.name]
        proto, text = load_protocol(path)
        if meta:
            try:
                proto = proto.model_copy(update={"metadata": with_meta(proto.metadata, list(meta))})
            except ValueError as exc:
                raise UserError(f"--meta {exc}") from None
        plan = expand(proto, srig, str(path))
        sites.append(SiteSetup(s.name, srig, to_toml(site_rig_data(rig, s.name)), plan, path, text))
    step = offset_step(rig.sample_rate_hz, rig.engine.block_ms, MAX_SPEED_BLOCK_MS)
    try:
        il = interleave([s.name for s in sites], [s.plan for s in sites], rig.site_guard_s, step)
    except ValueError as exc:
        raise UserError(f"{rig_name}: site_guard_s: {exc}") from None
    for s, o in zip(sites, il.offsets, strict=True):
        s.offset = o
    return sites, il


def site_maps(rig: RigConfig, sites: list[SiteSetup], n_ai: list[int]) -> list[SiteMap]:
    """Board indices of every site's AI (first ``n_ai[k]``), AO and DO, and its offset."""
    ai_names = [a.name for a in rig.ai]
    ao, do = rig.ao_channels(), rig.do_lines
    return [SiteMap(tuple(ai_names.index(a.name) for a in s.rig.ai[:n]),
                    tuple(ao.index(c) for c in s.rig.ao_channels()),
                    tuple(do.index(ln) for ln in s.rig.do_lines), s.offset)
            for s, n in zip(sites, n_ai, strict=True)]


def make_board(rig: RigConfig, sites: list[SiteSetup], seed: int, speed: float | None,
               faults: dict[str, tuple] | None = None, panels: dict[str, dict] | None = None) -> SharedDevice:
    """The board: the simulated multi-slice board (one virtual slice per site, with its own
    ``faults`` and front ``panels``), or the NI board with one AI task for every site's inputs and
    the AO/DO lines of every site."""
    block = block_samples(rig, speed)
    if rig.backend == "nidaq":
        from rig.experiment.nidaq_rig import nidaq_device_from_rig

        try:
            dev: Device = nidaq_device_from_rig(rig, block)
        except DeviceError as exc:
            raise RunFailure(str(exc)) from exc
        return SharedDevice(dev, site_maps(rig, sites, [len(s.rig.ai) for s in sites]))
    from drivers.sim.board import MultiSlice, SliceWiring
    from drivers.sim.device import SimDevice

    models = []
    for s in sites:
        mine = (faults or {}).get(s.name, ())
        m = with_slice_faults(make_slice_model(s.rig, s.plan, seed), mine, seed)  # as a single-slice run
        if needs_wiring(s.rig, mine):
            m = wire_slice(s.rig, m, seed, mine, (panels or {}).get(s.name))
        models.append(m)
    maps = site_maps(rig, sites, [m.n_ai for m in models])
    board = MultiSlice(models, [SliceWiring(m.ao, m.do, m.ai, m.offset) for m in maps], len(rig.ai))
    dev = SimDevice(board, sample_rate_hz=rig.sample_rate_hz, ai_channels=[a.channel for a in rig.ai],
                    ao_channels=rig.ao_channels(), do_lines=list(rig.do_lines), ao_uA_per_V=rig.ao_uA_per_V(),
                    adc_range_V=rig.ai[0].range_V, block_samples=block, speed=speed)
    return SharedDevice(dev, maps)


def index_data(rig_path: Path | None, rig_text: str, rig: RigConfig, sites: list[SiteSetup], il: Interleave,
               files: list[Path], seed: int, speed: float | None, status: dict[str, tuple[str, str]]) -> dict:
    fs = rig.sample_rate_hz
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(),
        "rig_path": str(rig_path) if rig_path else None, "rig_text": rig_text, "backend": rig.backend,
        "device": rig.device, "sample_rate_hz": fs, "seed": seed, "speed": "max" if speed is None else speed,
        "site_guard_s": rig.site_guard_s, "closest_approach_s": il.closest_s, "gated_sites": list(il.gated),
        "sites": [{"name": s.name, "file": f.name, "protocol_path": str(s.protocol_path),
                   "offset_samples": s.offset, "offset_s": s.offset / fs,
                   "ai": [a.channel for a in s.rig.ai], "stim": [c.pathway for c in rig.stim if c.pathway in
                                                                   next(x.stim for x in rig.site if x.name == s.name)],
                   "pathways": s.rig.pathway_names(), "seed_offset": s.rig.sim.seed_offset,
                   "status": status.get(s.name, ("running", ""))[0], "message": status.get(s.name, ("", ""))[1]}
                  for s, f in zip(sites, files, strict=True)],
    }


def run_sites(rig: RigConfig, rig_text: str, rig_path: Path | None, protocols: dict[str, Path], *,
              out: Path | None = None, seed: int = 0, speed: float | None = None, meta: list[str] = (),
              windows: list[str] = (), control: bool = True, stop: threading.Event | None = None,
              observers: dict[str, list] | None = None, fsync: bool = False,
              on_tick: Callable[[], None] | None = None, commands: dict[str, queue.Queue] | None = None,
              faults: dict[str, tuple] | None = None, panels: dict[str, dict] | None = None,
              on_files: Callable[[Path, list[Path]], None] | None = None) -> SitesResult:
    """Run every site to its end (or until ``stop``); return where each file is and how it ended.
    ``observers``: per site name, extra observers of its documents; ``commands``: per site name,
    its operator command queue (the window's); ``faults`` / ``panels``: per site name, its
    simulated faults and TTL-only front panels (:mod:`rig.experiment.sites_options`);
    ``on_tick`` runs on the calling thread while the sites run; ``on_files(index, files)`` once the
    file names are chosen."""
    sites, il = prepare_sites(rig, protocols, meta, str(rig_path or "rig file"))
    for s in sites:
        warn_silent_faults((faults or {}).get(s.name, ()), s.plan, f"site {s.name}: ")
    wins = [analysis_windows(s.plan, list(windows)) for s in sites]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    index = out if out is not None else Path("recordings") / f"{stamp}_{rig.site[0].name}-{rig.site[-1].name}{SUFFIX}"
    if not index.name.endswith(SUFFIX):
        raise UserError(f"--out: {index} must end in {SUFFIX} for a multi-site run (the run index)")
    index.parent.mkdir(parents=True, exist_ok=True)
    index = unique_path(index)
    base = index.name[: -len(SUFFIX)]
    files = [unique_path(index.parent / f"{base}_{s.name}.h5") for s in sites]
    if on_files is not None:
        on_files(index, files)
    shared = make_board(rig, sites, seed, speed, faults, panels)
    runs: list[Assembly] = []
    try:
        for s, f, view, w in zip(sites, files, shared.views, wins, strict=True):
            prov = {"protocol_path": str(s.protocol_path), "protocol_text": s.protocol_text, "rig_text": s.rig_text,
                    "versions": json.dumps(library_versions()), "host": socket.gethostname(),
                    "metadata": json.dumps(s.plan.metadata), "speed": "max" if speed is None else speed,
                    "site": s.name, "site_offset_samples": s.offset, "run_index": index.name}
            runs.append(assemble_run(s.plan, s.rig, seed=seed, speed=speed, out=f, fsync=fsync,
                                     file_attrs={"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                                     observers=list((observers or {}).get(s.name, ())), provenance=prov,
                                     windows=w, device=view, commands=(commands or {}).get(s.name),
                                     panel=(panels or {}).get(s.name)))
    except BaseException:
        for r in runs:
            r.close()
        shared.close()
        raise
    if len(sites) > 1:  # the guard kept at run time when a site's stimuli move (rig.closed_loop.live_guard)
        from rig.closed_loop.live_guard import GuardBoard

        board = GuardBoard([s.name for s in sites], [s.offset for s in sites], [s.plan for s in sites],
                           il.guard_samples)
        for k, r in enumerate(runs):
            r.controller.guard = board.seat(k)
    write_index(index, index_data(rig_path, rig_text, rig, sites, il, files, seed, speed, {}))
    stop = stop or threading.Event()
    stops = [threading.Event() for _ in sites]
    outcomes = [SiteOutcome(s.name, f) for s, f in zip(sites, files, strict=True)]
    t0 = time.perf_counter()

    def one(k: int) -> None:
        r, o = runs[k], outcomes[k]
        try:
            with OperatorControl(r.controller, files[k], endpoint=control, announce=False):
                doc = r.engine.run(stops[k])
            o.reason, o.message = doc.reason, doc.message
        except BaseException as exc:  # noqa: BLE001 - one site's failure never stops the others
            o.reason, o.message, o.error = "error", f"{type(exc).__name__}: {exc}"[:300], exc
        finally:
            try:
                r.close()  # its file; its outputs at 0 V (the view), the board goes on
            except BaseException as exc:  # noqa: BLE001
                o.message = o.message or f"close: {exc}"

    threads = [threading.Thread(target=one, args=(k,), name=f"rig-site-{s.name}", daemon=True)
               for k, s in enumerate(sites)]
    try:
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            if stop.is_set():
                for e in stops:
                    e.set()
            for t in threads:
                t.join(0.05)
            if on_tick is not None:
                on_tick()
    finally:
        for e in stops:
            e.set()
        for t in threads:
            t.join(10.0)
        shared.close()  # every output of every site at 0 V, the board released
        status = {o.name: (o.reason, o.message) for o in outcomes}
        write_index(index, index_data(rig_path, rig_text, rig, sites, il, files, seed, speed, status))
    if sys.stderr.isatty():
        for s, f in zip(sites, files, strict=True):
            print(f"rig: site {s.name} → {f} (starts at +{s.offset / rig.sample_rate_hz:g} s)", file=sys.stderr)
    return SitesResult(index, outcomes, time.perf_counter() - t0, shared.error)
