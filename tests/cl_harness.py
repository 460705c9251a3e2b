"""Closed-loop test harness: a plan built in Python, a simulated slice, the real engine."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from drivers.sim.device import SimDevice
from rig.closed_loop.controller import Controller
from rig.core.documents import Event, Measured, PhaseStart, RunStop
from rig.core.plan import Phase, Plan, Stimulus, TestSchedule
from rig.engine import ChannelScaling, Engine
from rig.stimulus import OutputMap, StimLimits

FS = 10_000.0
LIMITS = StimLimits(800.0, 500.0, 200.0, 5.0, 0.25)


@dataclass
class Run:
    stop: RunStop
    docs: list
    engine: Engine
    device: SimDevice
    controller: Controller
    measured: list = field(default_factory=list)

    def events(self, kind: str | None = None) -> list[Event]:
        return [d for d in self.docs if isinstance(d, Event) and (kind is None or d.kind == kind)]

    def phases(self) -> list[PhaseStart]:
        return [d for d in self.docs if isinstance(d, PhaseStart)]


def io_phase(intensities: list[float], pathways: tuple[int, ...] = (0,), interval_s: float = 2.0,
             repeats: int = 2, rule: dict | None = None) -> Phase:
    step = int(interval_s * FS)
    stims, k = [], 0
    for _ in range(repeats):
        for uA in intensities:
            for pw in pathways:
                stims.append(Stimulus(sample=int(0.05 * FS) + k * step, pathway=pw, kind="io", intensity_uA=uA,
                                      width_samples=1, pre_samples=200, post_samples=800, label=f"io {uA} µA"))
                k += 1
    return Phase("io", "io_curve", k * step, stimuli=tuple(stims),
                 info={"set_intensity": rule or {"rule": "percent_of_max", "percent": 40}})


def test_schedule(pathways: tuple[int, ...] = (0,), interval_s: float = 5.0) -> TestSchedule:
    return TestSchedule(interval_samples=int(interval_s * FS), pathways=pathways, first_offset=int(0.05 * FS))


def baseline(min_s: float, max_s: float | None = None, pathways: tuple[int, ...] = (0,), interval_s: float = 5.0,
             on_unstable: str = "abort", stability: dict | None = None) -> Phase:
    info = {"stability": stability or {"max_drift_percent_per_10min": 10.0, "max_halves_diff_percent": 6.0,
                                       "window_min": min_s / 60.0},
            "on_unstable": on_unstable}
    return Phase("baseline", "baseline", int(min_s * FS), test=test_schedule(pathways, interval_s),
                 max_duration_samples=int((max_s or min_s) * FS), info=info)


def tbs(pathway: int = 0, trains: int = 2) -> Phase:
    isi, ibi = int(0.01 * FS), int(0.2 * FS)
    offsets = tuple(b * ibi + k * isi for b in range(10) for k in range(4))
    stims = tuple(Stimulus(sample=200 + t * int(10 * FS), pathway=pathway, kind="train", pulse_offsets=offsets,
                           width_samples=1, pre_samples=200, post_samples=800) for t in range(trains))
    return Phase("TBS", "induction", stims[-1].sample + offsets[-1] + 800 + int(2 * FS), stimuli=stims,
                 info={"protocol": "tbs"})


def follow_up(s: float, pathways: tuple[int, ...] = (0,), interval_s: float = 5.0) -> Phase:
    return Phase("follow-up", "follow_up", int(s * FS), test=test_schedule(pathways, interval_s))


def make_plan(phases: list[Phase], pathways: tuple[int, ...] = (0,), intensity: tuple[float, ...] = (100.0, 100.0),
              closed_loop: dict | None = None) -> Plan:
    return Plan(name="cl-test", sample_rate_hz=FS, phases=tuple(phases), pathways=pathways,
                test_intensity_uA=intensity, pulse_width_samples=1, sweep_pre_samples=200, sweep_post_samples=800,
                closed_loop=closed_loop or {})


def run(plan: Plan, model, *, device_cls=SimDevice, device_kw: dict | None = None, commands=None,
        controller: Controller | None = None, stop: threading.Event | None = None,
        subscribers: list | None = None, block_samples: int = 1000, horizon_ms: float = 300.0,
        n_do: int = 0) -> Run:
    dev = device_cls(model, sample_rate_hz=FS, ai_channels=["ai0"], ao_channels=["ao0", "ao1"],
                     do_lines=[f"port0/line{k}" for k in range(n_do)] or None,
                     ao_uA_per_V=[100.0, 100.0], block_samples=block_samples, speed=None, **(device_kw or {}))
    ctl = controller or Controller(plan, limits=LIMITS, commands=commands)
    docs: list = []
    measured: list = []

    def sub(d: object) -> None:
        docs.append(d)
        if isinstance(d, Measured):
            measured.append(d)

    eng = Engine(dev, ctl, OutputMap((0, 1), (100.0, 100.0), 2, n_do), LIMITS, ChannelScaling([10.0], [1000.0]),
                 [sub, *(subscribers or [])], horizon_samples=int(horizon_ms / 1000 * FS), seed=0)
    res = eng.run(stop or threading.Event())
    return Run(res, docs, eng, dev, ctl, measured)
