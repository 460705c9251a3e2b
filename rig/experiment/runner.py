"""Assemble and run one experiment: protocol + rig → device, controller, engine, storage.

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

from drivers.base import Device
from rig import __version__
from rig.core.documents import RunStop
from rig.core.errors import UserError
from rig.core.plan import Plan
from rig.detector.measurement import Windows
from rig.engine import ChannelScaling, Engine
from rig.experiment.session import OperatorControl, make_controller
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import RigConfig, load_rig
from rig.storage import RecordingWriter, unique_path


@dataclass
class RunOptions:
    protocol: Path
    rig: Path | None = None
    out: Path | None = None
    seed: int = 0
    speed: float | None = None  # None = as fast as possible
    subscribers: list[Callable[[object], None]] = field(default_factory=list)
    fsync: bool = False
    commands: queue.Queue | None = None  # operator commands (window, terminal keys, rig ctl)
    keys: bool = False  # read operator keys from the terminal (headless runs)
    control: bool = True  # open the local control endpoint for `rig ctl`
    force_sim: bool = False  # --sim: the simulated device whatever backend the rig file names
    windows: list[str] = field(default_factory=list)  # NAME=START:END overrides (ms), after the protocol's


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


def make_device(rig: RigConfig, plan: Plan, seed: int, speed: float | None) -> Device:
    """The device the rig file names (the simulator by default)."""
    block = max(1, int(round(rig.engine.block_ms / 1000 * rig.sample_rate_hz)))
    if speed is None:  # as fast as possible: bigger blocks, same sample-exact contract
        block = max(block, int(rig.sample_rate_hz * 0.1))
    if rig.backend == "sim":
        return make_sim_device(rig, plan, seed, speed, block)
    if rig.backend == "nidaq":
        from drivers.base import DeviceError
        from rig.core.errors import RunFailure
        from rig.experiment.nidaq_rig import nidaq_device_from_rig

        try:
            return nidaq_device_from_rig(rig, block)
        except DeviceError as exc:
            raise RunFailure(str(exc)) from exc
    from rig.core.errors import RunFailure

    raise RunFailure(f"backend {rig.backend!r} is not available in this build; use --sim")


def make_slice_model(rig: RigConfig, plan: Plan, seed: int):
    """The virtual slice the rig's ``[sim]`` section names, with the plan's drugs in its valves."""
    slice_seed = seed + rig.sim.seed_offset
    if rig.sim.model == "simple":
        from drivers.sim.simple_slice import SimpleSlice

        return SimpleSlice(rig.sample_rate_hz, len(rig.stim), slice_seed, gain=rig.ai[0].gain)
    from drivers.sim.slice import make_slice
    from rig.protocol.perfusion import valve_contents

    genotype = rig.sim.genotype or plan.metadata.get("genotype") or "WT"
    return make_slice(rig.sample_rate_hz, len(rig.stim), slice_seed, genotype=genotype,
                      electrode=rig.sim.electrode, gain=rig.ai[0].gain, valves=valve_contents(plan),
                      n_ai=len(rig.ai))


def make_sim_device(rig: RigConfig, plan: Plan, seed: int, speed: float | None, block: int) -> Device:
    """The simulated DAQ wired as the rig file says, with the virtual slice attached."""
    from drivers.sim.device import SimDevice

    model = make_slice_model(rig, plan, seed)
    return SimDevice(
        model, sample_rate_hz=rig.sample_rate_hz, ai_channels=[a.channel for a in rig.ai][: model.n_ai],
        ao_channels=rig.ao_channels(), do_lines=list(rig.do_lines), ao_uA_per_V=rig.ao_uA_per_V(),
        adc_range_V=rig.ai[0].range_V, block_samples=block, speed=speed,
    )


def prepare(opts: RunOptions) -> tuple[Plan, RigConfig, str, str]:
    """Validate everything before any output is armed (raises UserError)."""
    proto, proto_text = load_protocol(opts.protocol)
    rig, rig_text = load_rig(opts.rig)
    if opts.force_sim and rig.backend != "sim":
        rig = rig.model_copy(update={"backend": "sim"})
    plan = expand(proto, rig, str(opts.protocol))
    analysis_windows(plan, opts.windows)  # a bad --window is an input error, found before arming
    return plan, rig, proto_text, rig_text


def analysis_windows(plan: Plan, overrides: list[str]) -> Windows:
    """Detector windows: defaults, then the protocol's [analysis] table, then --window overrides."""
    w = Windows.from_dict(plan.analysis_windows)
    for spec in overrides:
        try:
            w = w.override(spec)
        except ValueError as exc:
            raise UserError(f"--window: {exc}") from None
    return w


def run_experiment(opts: RunOptions, stop: threading.Event | None = None) -> RunResult:
    """Run to completion (or until ``stop``) on the calling thread's behalf; returns the result."""
    plan, rig, proto_text, rig_text = prepare(opts)
    out = opts.out or default_out_path(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    requested, out = out, unique_path(out)
    if out != requested:
        eprint(f"rig: {requested} exists (a recording is never overwritten); recording to {out} instead")
    device = make_device(rig, plan, opts.seed, opts.speed)
    provenance = {
        "protocol_path": str(opts.protocol), "protocol_text": proto_text, "rig_text": rig_text,
        "versions": json.dumps(library_versions()), "host": socket.gethostname(),
        "metadata": json.dumps(plan.metadata), "speed": "max" if opts.speed is None else opts.speed,
    }
    writer = RecordingWriter(out, len(device.ai_channels), {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                             fsync=opts.fsync)
    scaling = ChannelScaling([a.range_V for a in rig.ai][: len(device.ai_channels)],
                             [a.gain for a in rig.ai][: len(device.ai_channels)])
    horizon = int(rig.engine.horizon_ms / 1000 * rig.sample_rate_hz)
    ctl = make_controller(plan, rig, opts.commands)
    engine = Engine(device, ctl, rig.output_map(), rig.stim_limits(), scaling,
                    [writer, *opts.subscribers], horizon_samples=horizon, seed=opts.seed, provenance=provenance,
                    windows=analysis_windows(plan, opts.windows))
    stop = stop or threading.Event()
    t0 = time.perf_counter()
    try:
        with OperatorControl(ctl, out, keys=opts.keys, endpoint=opts.control, announce=sys.stderr.isatty()):
            result = engine.run(stop)
    finally:
        try:
            writer.close()
        finally:
            device.close()  # outputs zeroed, tasks closed, board reset (NI)
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
