"""Helpers for the virtual-slice tests: drive a slice model directly with pulse lists."""

from __future__ import annotations

import numpy as np

from rig.detector.measurement import Windows, measure


def drive(model, fs: float, total_s: float, pulses: list[tuple[float, int, float]],
          valve_events: list[tuple[float, int, int]] = (), block: int = 10000,
          width: int = 2, n_lines: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Run ``model`` for ``total_s`` seconds with monophasic pulses (t_s, electrode, µA) and
    valve switches (t_s, line, state). Returns (onset samples, recorded mV per pulse window) —
    the mV traces of channel 0 from −5 ms to +40 ms around every pulse."""
    n_total = int(total_s * fs)
    onsets = np.array([int(round(t * fs)) for t, _, _ in pulses], dtype=np.int64)
    pre, post = int(0.005 * fs), int(0.04 * fs)
    traces = np.zeros((len(pulses), pre + post))
    ttl_state = np.zeros(n_lines, dtype=np.uint8)
    vev = sorted((int(round(t * fs)), line, st) for t, line, st in valve_events)
    order = np.argsort(onsets, kind="stable")
    sorted_on = onsets[order]
    pk = 0
    vk = 0
    gain_mV = 1e3 / model.params.gain
    for start in range(0, n_total, block):
        n = min(block, n_total - start)
        stim = np.zeros((model.n_el, n))
        ttl = np.repeat(ttl_state[:, None], n, axis=1)
        while vk < len(vev) and vev[vk][0] < start + n:
            s, line, st = vev[vk]
            ttl[line, max(0, s - start):] = st
            ttl_state[line] = st
            vk += 1
        lo_j = np.searchsorted(sorted_on, start - width, side="right")
        hi_j = np.searchsorted(sorted_on, start + n, side="left")
        for j in order[lo_j:hi_j]:
            s = onsets[j]
            a, b = max(s, start), min(s + width, start + n)
            stim[pulses[j][1], a - start:b - start] = pulses[j][2]
        out = model.respond(start, stim, ttl)
        # copy pulse windows covered by this block
        while pk < len(order):
            j = order[pk]
            s = onsets[j]
            if s - pre >= start + n:
                break
            lo, hi = s - pre, s + post
            a, b = max(lo, start), min(hi, start + n)
            if b > a:
                traces[j, a - lo:b - lo] = out[0, a - start:b - start] * gain_mV
            if hi <= start + n:
                pk += 1
            else:
                break
    return onsets, traces


def slopes(traces: np.ndarray, fs: float) -> np.ndarray:
    """Initial slope (mV/ms) of every pulse window with the pipeline's detector."""
    pre = int(0.005 * fs)
    return np.array([measure(tr, pre, fs, Windows())["slope_mV_per_ms"][0] for tr in traces])


def tbs(t0: float, trains: int = 3, gap: float = 10.0, el: int = 0, i_uA: float = 100.0):
    return [(t0 + tr * gap + b * 0.2 + k * 0.01, el, i_uA)
            for tr in range(trains) for b in range(10) for k in range(4)]


def periodic(t0: float, t1: float, el: int = 0, i_uA: float = 100.0, every: float = 20.0):
    return [(t, el, i_uA) for t in np.arange(t0, t1, every)]
