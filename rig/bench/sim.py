"""Speed of the virtual slice's own computation (``rig bench``: ``sim_realtime_factor``)."""

from __future__ import annotations

import time

import numpy as np

from drivers.sim.slice import make_slice


def bench_slice(sim_s: float = 300.0, sample_rate_hz: float = 20000.0, n_ai: int = 2,
                block_samples: int = 2000, seed: int = 1) -> dict:
    """Simulated seconds per wall second for 2 AI channels at 20 kHz, two pathways.

    Test pulses alternate between S1 and S2 every 10 s, with one 100 Hz × 1 s train (the
    expensive case for the event-driven plasticity) per simulated minute. ``block_samples`` is the
    device's read size (2000 = the engine's 100 ms blocks). Only ``respond`` is timed.
    """
    fs = sample_rate_hz
    m = make_slice(fs, 2, seed, n_ai=n_ai)
    n_total = int(sim_s * fs)
    pulses = np.zeros((2, n_total))
    for k, t in enumerate(np.arange(0.5, sim_s, 10.0)):
        s = int(t * fs)
        pulses[k % 2, s:s + 2] = 100.0
    for t in np.arange(30.0, sim_s - 1.0, 60.0):
        for k in range(100):
            s = int((t + 0.01 * k) * fs)
            pulses[0, s:s + 2] = 100.0
    ttl = np.zeros((1, block_samples), dtype=np.uint8)
    m.respond(0, pulses[:, :block_samples], ttl)  # compile / load the cache
    wall = 0.0
    start = block_samples
    while start < n_total:
        n = min(block_samples, n_total - start)
        stim = pulses[:, start:start + n]
        t0 = time.perf_counter()
        m.respond(start, stim, ttl[:, :n])
        wall += time.perf_counter() - t0
        start += n
    simulated = (n_total - block_samples) / fs
    return {
        "sim_realtime_factor": simulated / wall,
        "sim_seconds": simulated,
        "sim_wall_s": wall,
        "sim_block_samples": block_samples,
        "sim_channels": n_ai,
        "sim_sample_rate_hz": fs,
        "sim_pulses": m.pulses_delivered,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_slice(), indent=1))
