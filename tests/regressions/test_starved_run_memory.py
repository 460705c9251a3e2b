"""A starved paced run grew to 3.5–4.4 GB (seen twice: a `rig run --speed 200` orphaned at load
~13, RSS 4.4 GB and still growing). After a long stall of the reading thread the simulated board
generated the whole lost stretch in one call (GBs of arrays for an hour of samples), and the engine
then rendered and queued outputs block by block for the stretch that had already gone by (32 kB per
block, kept until the next read): each catch-up took longer, so the next gap was larger. Both now
work in bounded pieces. Failed on the code before the fix."""

from __future__ import annotations

import tracemalloc

import tests.cl_harness as h
from drivers.sim.device import SimDevice
from drivers.sim.faults import FaultSlice

STALL_S = 600.0  # sample time lost in the stall (10 min)


class StalledDevice(SimDevice):
    """Paced at 50× (the harness asks for max speed); the reader stalls once, 30 s into the run,
    as long as ``STALL_S`` of sample time (what a starved engine thread does on a loaded machine)."""

    def __init__(self, *a, **kw) -> None:
        kw["speed"] = 50.0
        super().__init__(*a, **kw)
        self.stalled = False

    def read(self):
        if not self.stalled and self._pos > 30 * self.sample_rate_hz:
            self.stalled = True
            self._t0 -= STALL_S / self.speed  # as if the reader had slept that long
        return super().read()


def test_a_long_stall_of_a_paced_run_costs_bounded_memory_and_the_run_ends():
    plan = h.make_plan([h.follow_up(1000)],  # no gate: a loaded machine may lose samples anywhere
                     closed_loop={"alarms": {"stimulus_missed": {"action": "continue"}}})
    tracemalloc.start()
    try:
        r = h.run(plan, FaultSlice(h.FS, 2, seed=3), device_cls=StalledDevice, horizon_ms=300.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.device.stalled and r.engine.stats.lost_samples >= 0.9 * STALL_S * h.FS
    assert r.stop.reason == "incomplete", r.stop.message  # it ends, and not as completed: stimuli were missed
    assert peak < 150e6, f"peak {peak / 1e6:.0f} MB"  # before: 404 MB for 10 minutes lost at 10 kHz
