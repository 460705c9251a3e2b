"""Detector benchmark: numba measurement set vs the numpy reference, and cold start.

All figures come from one run on one realistic synthetic sweep (20 kHz, 100 ms, −0.5 mV fEPSP,
25 µV noise, 8 µV hum, saturating artifact): the public :func:`rig.detector.measurement.measure` call
(wrapper included) timed call by call with ``perf_counter_ns``. Per sweep from the engine's int16
counts (:func:`bench_sweep`): the field channel alone (``detector_us_per_sweep``) beside all 64
electrodes of an MEA sweep in one call (``detector_us_per_sweep_64ch``), timed alternately.

Cold start: ``detector_cold_start_ms`` is the first call in a fresh interpreter with a warm
on-disk cache, everything included. Most of it is numba's one-time, process-wide set-up of its
typing/target registries (paid by the first cached jitted call of *any* module), reported
separately as ``numba_process_init_ms``; ``detector_cold_start_cache_load_ms`` is the first
call once that set-up is done (loading and linking the detector's cached machine code).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

_COLD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from rig import detector
from rig.bench.fepsp_synth import Synth
t1 = time.perf_counter()
init_ms = 0.0
if sys.argv[1] == "preinit":  # numba's one-time, process-wide typing/target set-up first
    from numba.core.registry import cpu_target
    cpu_target.target_context.refresh()
    cpu_target.typing_context.refresh()
    init_ms = (time.perf_counter() - t1) * 1e3
s = Synth(noise_uV=25.0, hum_uV=8.0)
x = s.trace()
t2 = time.perf_counter()
detector.measure(x, s.stim_index, s.fs_hz, detector.Windows(), s.clip_mV)
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "init_ms": init_ms,
                  "first_call_ms": (t3 - t2) * 1e3}))
"""


def _fresh(mode: str) -> dict:
    res = subprocess.run([sys.executable, "-c", _COLD, mode], capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cold_start() -> dict:
    """First call in fresh interpreters with a warm on-disk cache (a first run warms it)."""
    _fresh("plain")  # makes sure the on-disk cache is warm
    plain = _fresh("plain")
    pre = _fresh("preinit")
    return {
        "detector_cold_start_ms": round(plain["first_call_ms"], 2),
        "detector_cold_start_cache_load_ms": round(pre["first_call_ms"], 2),
        "numba_process_init_ms": round(pre["init_ms"], 1),
        "detector_import_ms": round(plain["import_ms"], 1),
    }


def _time_calls(fn, n: int) -> np.ndarray:
    ts = np.empty(n)
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        fn()
        ts[i] = clock() - t0
    return ts / 1000.0  # µs


def bench_detector(n_calls: int = 10_000, n_reference: int = 1_000, cold: bool = True) -> dict:
    """Measure the detector; returns the keys documented in issue 3 (µs, ms, ratio)."""
    from rig import detector
    from rig.bench.fepsp_synth import Synth
    from rig.detector import reference as ref

    s = Synth(noise_uV=25.0, hum_uV=8.0)
    x = s.trace()
    w = detector.Windows()
    stim, fs, clip = s.stim_index, s.fs_hz, s.clip_mV
    detector.warm_up()
    a = detector.measure(x, stim, fs, w, clip)
    b = ref.measure_pulses(x, [stim], fs, w, clip)
    agree = all(np.allclose(a[f], b[f], rtol=1e-9, atol=1e-12, equal_nan=True)
                for f in detector.FLOAT_FIELDS)
    for _ in range(200):  # settle caches / branch predictors
        detector.measure(x, stim, fs, w, clip)
    t_det = _time_calls(lambda: detector.measure(x, stim, fs, w, clip), n_calls)
    t_ref = _time_calls(lambda: ref.measure_pulses(x, [stim], fs, w, clip), n_reference)
    med, refmed = float(np.median(t_det)), float(np.median(t_ref))
    res = {
        "detector_us_median": round(med, 3),
        "detector_us_p99": round(float(np.percentile(t_det, 99)), 3),
        "detector_calls": n_calls,
        "reference_us_median": round(refmed, 3),
        "reference_calls": n_reference,
        "speedup": round(refmed / med, 1),
        "detector_matches_reference": bool(agree),
        "detector_sweep": "20 kHz, 100 ms, -0.5 mV fEPSP, 25 uV noise, 8 uV 50 Hz hum",
    }
    res.update(bench_sweep(max(200, n_calls // 10)))
    if cold:
        res.update(_cold_start())
    return res


def mea_sweep(n_channels: int = 64, seed: int = 1):
    """A realistic MEA sweep as the engine holds it: int16 counts (n_channels, 2000) at 20 kHz
    (±10 V, gain 1000), fEPSPs from −0.6 mV down to nothing across the array, 15 µV noise, hum and
    a saturating artifact; returns (counts, mV per count, pulse onsets, fs)."""
    from rig.bench.fepsp_synth import Synth

    rng = np.random.default_rng(seed)
    scale = 10.0 / 32768 * 1000.0 / 1000.0
    rows = []
    for k in range(n_channels):
        a = -0.6 * float(np.exp(-rng.uniform(0.0, 4.0)))
        s = Synth(amplitude_mV=a, volley_mV=a / 8, noise_uV=15.0, hum_uV=5.0, clip_mV=9.99, seed=seed * 1000 + k)
        rows.append(s.trace())
    counts = np.clip(np.rint(np.stack(rows) / scale), -32768, 32767).astype(np.int16)
    return counts, np.full(n_channels, scale), np.array([s.stim_index], dtype=np.int64), s.fs_hz


def bench_sweep(n_calls: int = 1000, n_channels: int = 64) -> dict:
    """Measuring one sweep from its int16 counts, as the engine does: the field channel alone
    (``detector_us_per_sweep``: counts × scale, then :func:`rig.detector.measure_pulses`) and every
    channel in one call (``detector_us_per_sweep_64ch``: :func:`rig.detector.multichannel.measure_channels`),
    timed alternately in the same loop; ``mea_matches_single``: every channel's records equal the
    single-channel measurement of that channel."""
    from rig import detector
    from rig.detector.multichannel import measure_channels
    from rig.detector.multichannel import warm_up as warm_mc

    counts, scale, pulses, fs = mea_sweep(n_channels)
    w = detector.Windows()
    clip = 32767 * scale * 0.999
    detector.warm_up()
    warm_mc()

    def single(c: int = 0) -> np.ndarray:
        return detector.measure_pulses(counts[c] * scale[c], pulses, fs, w, float(clip[c]))

    def every() -> np.ndarray:
        return measure_channels(counts, scale, pulses, fs, w)

    all_rec = every()
    same = all(np.array_equal(all_rec[c][f], single(c)[f], equal_nan=True)
               for c in range(n_channels) for f in detector.MEASUREMENT_DTYPE.names)
    for _ in range(50):
        single()
        every()
    t1, tn = np.empty(n_calls), np.empty(n_calls)
    clock = time.perf_counter_ns
    for i in range(n_calls):
        t0 = clock()
        single()
        t1[i] = clock() - t0
        t0 = clock()
        every()
        tn[i] = clock() - t0
    t1, tn = t1 / 1000.0, tn / 1000.0
    key = f"detector_us_per_sweep_{n_channels}ch"
    return {
        "detector_us_per_sweep": round(float(np.median(t1)), 3),
        key: round(float(np.median(tn)), 2),
        f"{key}_p10": round(float(np.percentile(tn, 10)), 2),
        f"{key}_p99": round(float(np.percentile(tn, 99)), 2),
        "detector_us_per_sweep_p10": round(float(np.percentile(t1, 10)), 3),
        "sweep_bench_load_avg": round(os.getloadavg()[0], 2),  # other processes on this machine meanwhile
        f"detector_us_per_channel_{n_channels}ch": round(float(np.median(tn)) / n_channels, 3),
        "mea_channels": n_channels,
        "mea_matches_single": bool(same),
        "sweep_calls": n_calls,
        "mea_sweep": f"{n_channels} channels x 20 kHz, 100 ms int16 counts, fEPSP -0.6 mV to none, 15 uV noise",
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(bench_detector(), indent=2))
