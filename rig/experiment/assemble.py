"""The one place where a run is assembled: device, controller, engine and subscribers.

``rig run`` (through the runner), ``rig validate-sim``, the benches and ``rig selftest`` all
build their runs here, so every run is checked the same way before anything is armed:

* the plan's stimuli against the rig's limits (:func:`check_plan_limits`, as ``rig check``),
* one sample rate: the rig file's ``sample_rate_hz``, carried by the plan; a device that runs at
  another rate (an NI board that coerced it) is refused (:class:`drivers.base.SampleRateError`),
* storage is a *critical* sink (its failure stops the run safely); display, progress and user
  subscribers are *observers* (their failure is recorded, the run goes on).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drivers.base import Device, DeviceError, SampleRateError
from rig.closed_loop.controller import Controller
from rig.core.errors import RunFailure, UserError
from rig.core.plan import Plan
from rig.core.scheduler import Scheduler
from rig.detector.measurement import PathwayWindows, Windows
from rig.engine import ChannelScaling, Engine
from rig.experiment import mea_run
from rig.experiment.session import make_controller
from rig.experiment.wired_sim import n_field_channels, needs_wiring, wire_slice, with_slice_faults
from rig.protocol.rigfile import RigConfig
from rig.stimulus import OutputMap, StimLimits, stimulus_problems
from rig.storage import RecordingWriter

Subscriber = Callable[[object], None]


@dataclass
class Assembly:
    """A run ready to go: ``engine.run(stop)``, then :meth:`close` (file, then device)."""

    device: Device
    controller: Controller
    engine: Engine
    writer: RecordingWriter | None = None

    def close(self) -> None:
        """Close the file (completed sweeps on disk), then the device (outputs zeroed, reset)."""
        try:
            if self.writer is not None:
                self.writer.close()
        finally:
            self.device.close()


def block_samples(rig: RigConfig, speed: float | None) -> int:
    """Samples per device read: the rig's ``engine.block_ms``; ≥ 0.1 s when as fast as possible."""
    block = max(1, int(round(rig.engine.block_ms / 1000 * rig.sample_rate_hz)))
    if speed is None:  # as fast as possible: bigger blocks, same sample-exact contract
        block = max(block, int(rig.sample_rate_hz * 0.1))
    return block


def horizon_samples(rig: RigConfig) -> int:
    """The write-ahead horizon of the rig's ``engine.horizon_ms``, in samples."""
    return int(rig.engine.horizon_ms / 1000 * rig.sample_rate_hz)


def make_device(rig: RigConfig, plan: Plan, seed: int, speed: float | None, block: int | None = None,
                wiring: tuple = (), panel: dict | None = None) -> Device:
    """The device the rig file names (the simulator by default; ``wiring`` faults, front ``panel``
    settings of TTL-only isolators: see :mod:`rig.experiment.wired_sim`)."""
    block = block or block_samples(rig, speed)
    if rig.backend == "sim":
        return make_sim_device(rig, plan, seed, speed, block, wiring=wiring, panel=panel)
    if rig.backend == "nidaq":
        from rig.experiment.nidaq_rig import nidaq_device_from_rig

        try:
            return nidaq_device_from_rig(rig, block)
        except DeviceError as exc:
            raise RunFailure(str(exc)) from exc
    raise RunFailure(f"backend {rig.backend!r} is not available in this build; use --sim")


def pre_incubation_attrs(plan: Plan) -> dict:
    """File attribute ``pre_incubation`` (JSON {drug: {"concentration_uM", "minutes"}}) when the
    protocol's first phase says the slice sat in a drug before the recording."""
    import json

    from rig.protocol.perfusion import pre_incubation

    pre = pre_incubation(plan)
    if not pre:
        return {}
    return {"pre_incubation": json.dumps({d: {"concentration_uM": c, "minutes": s / 60.0}
                                          for d, (c, s) in pre.items()})}


def make_slice_model(rig: RigConfig, plan: Plan, seed: int):
    """The virtual slice the rig's ``[sim]`` section names, with the plan's drugs in its valves."""
    slice_seed = seed + rig.sim.seed_offset
    if rig.sim.model == "simple":
        from drivers.sim.simple_slice import SimpleSlice

        return SimpleSlice(rig.sample_rate_hz, len(rig.stim), slice_seed, gain=rig.scale_gains()[0])
    from drivers.sim.slice import make_slice
    from rig.protocol.perfusion import pre_incubation, valve_contents

    said = plan.metadata.get("genotype")  # "unknown" (recorded as such): the virtual slice is a WT one
    genotype = rig.sim.genotype or (said if said and said != "unknown" else "WT")
    kw = dict(genotype=genotype, electrode=rig.sim.electrode, gain=rig.scale_gains()[0], valves=valve_contents(plan),
              pre_incubated=pre_incubation(plan))
    if rig.mea is not None:  # one slice on the array: a spatial gradient of responses (drivers.sim.mea)
        from drivers.sim.mea import make_mea_slice

        lay = rig.mea_layout()
        stim = [lay.xy_um(lay.stim_electrodes[k]) for k in range(len(rig.stim))]
        return make_mea_slice(rig.sample_rate_hz, len(rig.stim), slice_seed, [lay.xy_um(e) for e in lay.electrodes],
                              stim, lay.pitch_um, **kw)
    return make_slice(rig.sample_rate_hz, len(rig.stim), slice_seed, n_ai=n_field_channels(rig), **kw)


def make_sim_device(rig: RigConfig, plan: Plan, seed: int, speed: float | None, block: int,
                    model: object | None = None, wiring: tuple = (), panel: dict | None = None) -> Device:
    """The simulated DAQ wired as the rig file says, with the virtual slice (``model``, else the
    rig's ``[sim]`` slice) attached."""
    from drivers.sim.device import SimDevice

    model = model if model is not None else make_slice_model(rig, plan, seed)
    model = with_slice_faults(model, wiring, seed)
    if needs_wiring(rig, wiring):
        model = wire_slice(rig, model, seed, wiring, panel)
    return SimDevice(
        model, sample_rate_hz=rig.sample_rate_hz, ai_channels=[a.channel for a in rig.ai][: model.n_ai],
        ao_channels=rig.ao_channels(), do_lines=list(rig.do_lines), ao_uA_per_V=rig.ao_uA_per_V(),
        adc_range_V=rig.ai[0].range_V, block_samples=block, speed=speed,
    )


def wiring_attrs(rig: RigConfig, panel: dict | None) -> dict:
    """File attributes of the wiring: ``gain_channel`` (the AI a telegraph scales per sweep, -1),
    ``ai_kinds`` (field / telegraph / monitor per AI) and ``front_panel`` (TTL-only isolators:
    {pathway: [µA, µs]} as typed in at start)."""
    tel = rig.wiring_checks().telegraph
    return {"gain_channel": tel.field_channel if tel else -1, "ai_kinds": [a.kind for a in rig.ai],
            "front_panel": {k: list(v) for k, v in (panel or {}).items()}}


def check_plan_limits(plan: Plan, limits: StimLimits) -> None:
    """Every stimulus of ``plan`` (test pulses at the plan's test intensity) within the rig's
    limits, before any output is armed; the first problem as a one-line ``UserError``."""
    from rig.core.plan import Stimulus

    fs = float(plan.sample_rate_hz)
    for k, ph in enumerate(plan.phases):
        stims = [(s, s.intensity_uA if s.intensity_uA is not None else plan.test_intensity_uA[s.pathway])
                 for s in ph.stimuli]
        if ph.test is not None:
            for pw in sorted(set(ph.test.pathways)):
                s = Stimulus(0, pw, ph.test.kind, width_samples=plan.pulse_width_samples, biphasic=plan.biphasic)
                stims.append((s, plan.test_intensity_uA[pw]))
        for s, uA in stims:
            found = stimulus_problems(s, uA, fs, limits)
            if found:
                raise UserError(f"phase {k + 1} ({ph.name}), {s.kind} stimulus on S{s.pathway + 1}: {found[0]}")


def scaling_for(rig: RigConfig, n_ai: int) -> ChannelScaling:
    """ADC range and gain of the device's first ``n_ai`` inputs (rig file order)."""
    return ChannelScaling([a.range_V for a in rig.ai][:n_ai], rig.scale_gains()[:n_ai])


def build_engine(device: Device, scheduler: Scheduler, wiring: OutputMap, limits: StimLimits,
                 scaling: ChannelScaling, *, critical: Sequence[Subscriber] = (),
                 observers: Sequence[Subscriber] = (), horizon: int, **kw: object) -> Engine:
    """The engine on ``device`` driven by ``scheduler``; a device at another sample rate than the
    plan's raises :class:`drivers.base.SampleRateError`."""
    return Engine(device, scheduler, wiring, limits, scaling, list(critical), observers=list(observers),
                  horizon_samples=horizon, **kw)  # type: ignore[arg-type]


def assemble_run(
    plan: Plan,
    rig: RigConfig,
    *,
    seed: int = 0,
    speed: float | None = None,
    out: Path | None = None,
    file_attrs: dict | None = None,
    fsync: bool = False,
    critical: Sequence[Subscriber] = (),
    observers: Sequence[Subscriber] = (),
    commands: queue.Queue | None = None,
    windows: Windows | PathwayWindows | None = None,
    provenance: dict | None = None,
    slice_model: object | None = None,
    block: int | None = None,
    horizon: int | None = None,
    sim_wiring: tuple = (),
    panel: dict[str, tuple[float, float]] | None = None,
    device: Device | None = None,
) -> Assembly:
    """Check ``plan`` against ``rig``, open the device, the recording (``out``, a critical sink
    ahead of ``critical``) and build controller and engine. Nothing is armed yet; on any error
    here the device is closed again. ``device``: an open device to run on instead (one site's
    view of a multi-slice board, :mod:`rig.experiment.sites_run`)."""
    if abs(float(plan.sample_rate_hz) - float(rig.sample_rate_hz)) > 1e-9 * float(rig.sample_rate_hz):
        raise UserError(f"sample rate: the plan was made for {plan.sample_rate_hz:g} Hz, the rig file "
                        f"sample_rate_hz is {rig.sample_rate_hz:g} Hz")
    check_plan_limits(plan, rig.stim_limits())
    block = block or block_samples(rig, speed)
    if device is not None:
        pass
    elif slice_model is not None:
        if rig.backend != "sim":
            raise UserError("a virtual slice needs the simulated backend")
        device = make_sim_device(rig, plan, seed, speed, block, slice_model, sim_wiring, panel)
    else:
        device = make_device(rig, plan, seed, speed, block, sim_wiring, panel)
    writer = None
    try:
        n_ai = len(device.ai_channels)
        if out is not None:
            writer = RecordingWriter(out, n_ai, {**dict(file_attrs or {}), **pre_incubation_attrs(plan)},
                                     fsync=fsync, mea=rig.mea_layout())
        ctl = make_controller(plan, rig, commands)
        engine = build_engine(device, ctl, rig.output_map(), rig.stim_limits(), scaling_for(rig, n_ai),
                              critical=[*([writer] if writer is not None else []), *critical],
                              observers=observers, horizon=horizon or horizon_samples(rig), seed=seed,
                              provenance={**(provenance or {}), **wiring_attrs(rig, panel)}, windows=windows,
                              wiring_checks=rig.wiring_checks(panel))
        mea_run.attach(engine, rig.mea_layout())  # MEA mode: every electrode measured every sweep
    except BaseException as exc:
        Assembly(device, None, None, writer).close()  # type: ignore[arg-type]
        if isinstance(exc, SampleRateError):
            raise UserError(str(exc)) from exc
        raise
    return Assembly(device, ctl, engine, writer)
