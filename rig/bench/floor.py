"""The floor: what numpy alone takes to make and move the samples a pipeline run moves.

Per block of the run's size: Gaussian noise at the simulator's RMS (20–35 µV at the electrode,
white, float32), 50 Hz pickup from a one-period table, scaled to ADC counts, rounded to int16 and
copied into a ring buffer of the
engine's length. No slice, no stimulus, no detector, no storage: the pipeline cannot beat it.
"""

from __future__ import annotations

import time

import numpy as np

NOISE_mV = 0.03  # at the electrode (docs/simulation.md: 20–35 µV RMS)
HUM_mV = 0.01
GAIN = 1000.0
LSB_V = 10.0 / 32768.0


def floor_realtime_factor(n_samples: int, fs: float, block: int, n_ai: int = 1, ring_s: float = 10.0,
                          seed: int = 1) -> dict:
    """Generate ``n_samples`` per channel in blocks of ``block`` and store them in a ring; returns
    ``floor_wall_s`` and ``floor_realtime_factor`` (experiment seconds per wall second)."""
    rng = np.random.default_rng(seed)
    ring_len = int(ring_s * fs)
    ring = np.zeros((n_ai, ring_len), dtype=np.int16)
    scale = GAIN * 1e-3 / LSB_V  # mV at the electrode → counts
    period = int(round(fs / 50.0))  # 50 Hz pickup: a table of one period, indexed
    hum = (HUM_mV * scale * np.sin(2 * np.pi * np.arange(period + block) / period)).astype(np.float32)
    x = np.empty((n_ai, block), dtype=np.float32)
    t0 = time.perf_counter()
    pos = 0
    while pos < n_samples:
        n = min(block, n_samples - pos)
        xb = x[:, :n]
        rng.standard_normal(out=xb, dtype=np.float32)
        xb *= np.float32(NOISE_mV * scale)
        xb += hum[pos % period:pos % period + n]
        counts = np.rint(xb, out=xb).astype(np.int16)  # ±30 µV never reaches the ADC limits
        i0 = pos % ring_len
        k = min(n, ring_len - i0)
        ring[:, i0:i0 + k] = counts[:, :k]
        if k < n:
            ring[:, :n - k] = counts[:, k:]
        pos += n
    wall = time.perf_counter() - t0
    return {"floor_wall_s": wall, "floor_realtime_factor": n_samples / fs / wall}
