"""Measured performance. Every figure comes with a reference measured in the same run."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rig.bench.protocols import shipped_protocol

_protocol = shipped_protocol


def bench_pipeline(protocol: str | Path = "tbs_ltp.toml") -> dict:
    """TBS protocol through device → engine → detector → storage, headless, as fast as possible.

    References: the simulated device alone producing the same number of samples (no engine) one
    block per read (``device_only``) and as many blocks per read as the engine read ahead
    (``device_batched``), and the floor (numpy making and ring-buffering them:
    :mod:`rig.bench.floor`) in the device's blocks and in the engine's reads (``floor_batched``).
    Also the start-up of ``rig check``/``summary``/``analyze`` (on this run's file) beside
    ``python -c pass``. docs/performance.md has the profile behind these numbers.
    """
    from rig.experiment.assemble import make_device
    from rig.experiment.runner import RunOptions, prepare, run_experiment

    opts = RunOptions(protocol=_protocol(protocol), seed=1, speed=None)
    from rig.bench.floor import floor_realtime_factor
    from rig.bench.startup import bench_startup

    with tempfile.TemporaryDirectory() as d:
        opts.out = Path(d) / "bench.h5"
        cpu0, proc0 = time.thread_time(), time.process_time()
        res = run_experiment(opts)  # the engine runs on this thread (the slice's background on a worker)
        engine_cpu, process_cpu = time.thread_time() - cpu0, time.process_time() - proc0
        size = os.path.getsize(res.path)
        startup = bench_startup(opts.protocol, res.path)
    exp_s = res.stop.sample / res.engine.fs
    plan, rig, _, _ = prepare(opts)
    dev = make_device(rig, plan, 1, None)
    dev.start()
    t0 = time.perf_counter()
    n = 0
    target = res.stop.sample
    while n < target:
        n += dev.read().data.shape[1]
    dev_s = time.perf_counter() - t0
    lat = np.asarray(res.engine.stats.loop_latency_ms or [np.nan])
    floor = floor_realtime_factor(int(target), res.engine.fs, dev.block_samples, len(dev.ai_channels))
    per_read = max(1, round(target / max(1, res.engine.stats.reads) / dev.block_samples))  # blocks per read
    batched = _device_batched(make_device(rig, plan, 1, None), int(target), per_read)
    floor_b = floor_realtime_factor(int(target), res.engine.fs, per_read * dev.block_samples, len(dev.ai_channels))
    return {
        **floor,
        "pipeline_vs_floor": (exp_s / res.wall_s) / floor["floor_realtime_factor"],
        "floor_batched_realtime_factor": floor_b["floor_realtime_factor"],
        "pipeline_vs_floor_batched": (exp_s / res.wall_s) / floor_b["floor_realtime_factor"],
        "pipeline_device_reads": res.engine.stats.reads,
        "pipeline_blocks_per_read": target / max(1, res.engine.stats.reads) / dev.block_samples,
        "device_batched_realtime_factor": batched,
        **startup,
        "pipeline_experiment_s": exp_s,
        "pipeline_wall_s": res.wall_s,
        "pipeline_realtime_factor": exp_s / res.wall_s,
        "pipeline_engine_cpu_s": engine_cpu,  # CPU of the engine's thread (steadier than wall under load)
        "pipeline_process_cpu_s": process_cpu,  # every thread's, the slice's background worker too
        "device_only_realtime_factor": n / res.engine.fs / dev_s,
        "pipeline_vs_device_only": (exp_s / res.wall_s) / (n / res.engine.fs / dev_s),
        "pipeline_sweeps": res.engine.stats.sweeps,
        "file_bytes": size,
        "analysis_ms_p50": float(np.nanpercentile(lat, 50)),
        "analysis_ms_p99": float(np.nanpercentile(lat, 99)),
    }


def _device_batched(dev, n_samples: int, blocks: int) -> float:
    """The simulated device alone, read ``blocks`` blocks at a time with outputs at rest (as the
    engine reads it ahead at --speed max): experiment seconds per wall second."""
    b = dev.block_samples
    blocks = max(1, min(blocks, getattr(dev, "max_read_blocks", 1)))
    dev.start()
    t0 = time.perf_counter()
    n = 0
    while n < n_samples:
        m = blocks * b
        dev.write(dev.written_until, np.broadcast_to(np.zeros((len(dev.ao_channels), 1)), (len(dev.ao_channels), m)),
                  np.broadcast_to(np.zeros((len(dev.do_lines), 1), dtype=np.uint8), (len(dev.do_lines), m)))
        n += dev.read_blocks(blocks).data.shape[1]
    return n / dev.sample_rate_hz / (time.perf_counter() - t0)


def _bench_detector() -> dict:
    from rig.bench.detector import bench_detector

    return bench_detector()


def _bench_storage() -> dict:
    from rig.bench.storage import bench_storage

    return bench_storage()


def _bench_slice() -> dict:
    from rig.bench.sim import bench_slice

    return bench_slice()


def _bench_display() -> dict:
    from rig.bench.display import bench_display

    return bench_display()


def _bench_startup() -> dict:
    from rig.bench.startup import bench_startup_alone

    return bench_startup_alone()


def _bench_loop() -> dict:
    from rig.bench.loop_latency import bench_loop

    return bench_loop()


BENCHES = {
    "pipeline": bench_pipeline,
    "detector": _bench_detector,
    "storage": _bench_storage,
    "slice": _bench_slice,
    "display": _bench_display,
    "loop": _bench_loop,
    "startup": _bench_startup,
}


ONLY_WHEN_NAMED = {"startup"}  # the pipeline bench reports start-up already (3 runs each)


def run_benches(only: list[str] | None = None) -> dict:
    out: dict = {}
    for name, fn in BENCHES.items():
        if (only and name not in only) or (not only and name in ONLY_WHEN_NAMED):
            continue
        out.update(fn())
    return out
