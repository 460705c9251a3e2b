"""Run one experiment: protocol + rig → (assembled in :mod:`rig.experiment.assemble`) device,
controller, engine, storage.

The engine runs on its own thread; the calling (main) thread owns signals, the progress bar and
the window. SIGINT/SIGTERM set a stop flag: the engine zeroes the outputs, the file is closed with
every completed sweep, and the run reports ``interrupted``.
"""

from __future__ import annotations

import json
import platform
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from drivers.base import SampleRateError
from rig import __version__
from rig.core.documents import RunStop
from rig.core.errors import UserError
from rig.core.plan import Plan
from rig.detector.measurement import PathwayWindows
from rig.engine import Engine
from rig.experiment.assemble import assemble_run
from rig.experiment.front_panel import front_panel
from rig.experiment.session import OperatorControl
from rig.experiment.terminal_echo import TerminalEcho
from rig.experiment.wired_sim import parse_faults
from rig.protocol.load import expand, load_protocol
from rig.protocol.models import with_meta
from rig.protocol.rigfile import RigConfig, load_rig
from rig.storage import unique_path


@dataclass
class RunOptions:
    protocol: Path
    rig: Path | None = None
    out: Path | None = None
    seed: int = 0
    speed: float | None = None  # None = as fast as possible
    subscribers: list[Callable[[object], None]] = field(default_factory=list)  # observers (display, progress)
    fsync: bool = False
    commands: queue.Queue | None = None  # operator commands (window, terminal keys, rig ctl)
    keys: bool = False  # read operator keys from the terminal (headless runs)
    control: bool = True  # open the local control endpoint for `rig ctl`
    force_sim: bool = False  # --sim: the simulated device whatever backend the rig file names
    windows: list[str] = field(default_factory=list)  # NAME=START:END overrides (ms), after the protocol's
    sim_faults: list[str] = field(default_factory=list)  # --sim-fault NAME@MIN (wiring faults, simulator only)
    panel: list[str] = field(default_factory=list)  # --panel PATHWAY=µA:µs of TTL-only isolators
    meta: list[str] = field(default_factory=list)  # KEY=VALUE metadata overrides (rig run --meta)
    average: int | None = None  # rig run --average N: also measure averages of N sweeps (protocol [analysis])


@dataclass
class RunResult:
    path: Path
    stop: RunStop
    wall_s: float
    engine: Engine


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ltp-rig": __version__}
    for dist in ("numpy", "numba", "h5py", "nidaqmx", "pyqtgraph", "PySide6-Essentials", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def default_out_path(plan: Plan) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() else "_" for c in plan.name.lower()).strip("_") or "experiment"
    return Path("recordings") / f"{stamp}_{safe}.h5"


def prepare(opts: RunOptions) -> tuple[Plan, RigConfig, str, str]:
    """Validate everything before any output is armed (raises UserError)."""
    proto, proto_text = load_protocol(opts.protocol)
    if opts.meta:
        try:
            proto = proto.model_copy(update={"metadata": with_meta(proto.metadata, opts.meta)})
        except ValueError as exc:
            raise UserError(f"--meta {exc}") from None
    rig, rig_text = load_rig(opts.rig)
    if opts.force_sim and rig.backend != "sim":
        rig = rig.model_copy(update={"backend": "sim"})
    if opts.average is not None:
        if not 1 <= opts.average <= 100:
            raise UserError(f"--average {opts.average}: must be 1 … 100 sweeps")
        proto = proto.model_copy(update={"analysis": proto.analysis.model_copy(update={"average": opts.average})})
        proto.analysis.model_fields_set.add("average")
    plan = expand(proto, rig, str(opts.protocol))
    analysis_windows(plan, opts.windows)  # a bad --window is an input error, found before arming
    if opts.sim_faults and rig.backend != "sim":
        raise UserError("--sim-fault: faults are simulated; add --sim (or use a rig file with backend = \"sim\")")
    warn_silent_faults(parse_faults(opts.sim_faults), plan)
    front_panel(rig, opts.panel)
    return plan, rig, proto_text, rig_text


def warn_silent_faults(faults: tuple, plan: Plan, who: str = "") -> None:
    """Say so when a rehearsed slice fault cannot raise its alarm under this protocol's [alarms]."""
    from rig.closed_loop.alarms import merge_settings

    cfg = merge_settings((plan.closed_loop or {}).get("alarms"))
    for f in faults:
        alarm = FAULT_ALARMS.get(f.name)
        if alarm and not cfg[alarm].get("enabled", True):
            eprint(f"rig: {who}--sim-fault {f.name}: the protocol's {alarm} alarm is off, so it will be "
                   f"recorded but raise no alarm (enable it in [alarms], see docs/closed-loop.md)")


FAULT_ALARMS = {"slice-death": "response_lost", "noise": "noise", "electrode-shift": "volley_change"}


def analysis_windows(plan: Plan, overrides: list[str]) -> PathwayWindows:
    """Detector windows per pathway: defaults, then the protocol's [analysis] table and each pathway's
    own ([analysis.pathways.S2.windows]), then --window overrides (for every pathway)."""
    w = PathwayWindows.from_dicts(plan.analysis_windows, plan.pathway_windows)
    fs = float(plan.sample_rate_hz)
    for spec in overrides:
        try:
            w = w.override(spec)
        except ValueError as exc:
            raise UserError(f"--window: {exc}") from None
        problem = w.outside(plan.sweep_pre_samples / fs * 1e3, plan.sweep_post_samples / fs * 1e3)
        if problem:
            raise UserError(f"--window {spec}: {problem}")
    return w


def run_experiment(opts: RunOptions, stop: threading.Event | None = None) -> RunResult:
    """Run to completion (or until ``stop``) on the calling thread's behalf; returns the result."""
    plan, rig, proto_text, rig_text = prepare(opts)
    out = opts.out or default_out_path(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    requested, out = out, unique_path(out)
    if out != requested:
        eprint(f"rig: {requested} exists (a recording is never overwritten); recording to {out} instead")
    provenance = {
        "protocol_path": str(opts.protocol), "protocol_text": proto_text, "rig_text": rig_text,
        "versions": json.dumps(library_versions()), "host": socket.gethostname(),
        "metadata": json.dumps(plan.metadata), "speed": "max" if opts.speed is None else opts.speed,
    }
    echo = TerminalEcho() if opts.keys else None  # refusals and the ±20 % intensity rule in the terminal
    run = assemble_run(plan, rig, seed=opts.seed, speed=opts.speed, out=out, fsync=opts.fsync,
                       file_attrs={"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                       observers=[*opts.subscribers, *([echo] if echo else [])], commands=opts.commands,
                       provenance=provenance,
                       windows=analysis_windows(plan, opts.windows), sim_wiring=parse_faults(opts.sim_faults),
                       panel=front_panel(rig, opts.panel))
    ctl, engine = run.controller, run.engine
    stop = stop or threading.Event()
    t0 = time.perf_counter()
    try:
        with OperatorControl(ctl, out, keys=opts.keys, endpoint=opts.control, announce=sys.stderr.isatty(),
                             echo=echo):
            result = engine.run(stop)
    except SampleRateError as exc:  # the board coerced the rate when arming: refused, nothing stimulated
        raise UserError(str(exc)) from exc
    finally:
        run.close()  # file closed with every completed sweep; outputs zeroed, tasks closed, board reset (NI)
    return RunResult(out, result, time.perf_counter() - t0, engine)


class StopOnSignals:
    """Context manager: SIGINT/SIGTERM set ``event`` instead of raising in a random place."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.signum: int | None = None
        self._old: dict[int, object] = {}

    def _handler(self, signum: int, frame: object) -> None:
        self.signum = signum
        self.event.set()

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class EngineThread(threading.Thread):
    """Runs one experiment off the main thread; its result or error is handed back, never lost."""

    def __init__(self, opts: RunOptions, stop: threading.Event) -> None:
        super().__init__(name="rig-engine", daemon=True)
        self.opts, self.stop = opts, stop
        self.result: RunResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = run_experiment(self.opts, self.stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.error = exc


def run_in_thread(opts: RunOptions, on_tick: Callable[[], None] | None = None,
                  tick_s: float = 0.1) -> tuple[RunResult | None, BaseException | None, int | None]:
    """Run the engine on a worker thread; the main thread handles signals and ``on_tick``."""
    stop = threading.Event()
    with StopOnSignals(stop) as sig:
        t = EngineThread(opts, stop)
        t.start()
        while t.is_alive():
            t.join(tick_s)
            if on_tick:
                on_tick()
    return t.result, t.error, sig.signum


def eprint(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)
