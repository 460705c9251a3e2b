"""Storage benchmark: per-sweep write + flush time and file growth for a protocol's sweeps.

The sweeps are the protocol's own (lengths, pulses, pathways, phases from the expanded plan on
the default rig) with int16 noise as samples — the writer stores them uncompressed, so their
content does not change the cost. Each figure comes with its references measured in the same
run: the same writer without any flush (the floor: HDF5 work alone) and with ``fsync`` after
every sweep (power-loss safety, ``rig run --fsync``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from rig import detector
from rig.closed_loop.controller import Controller
from rig.core.documents import Event, Measured, PhaseStart, RunStart, RunStop, Sweep
from rig.storage.writer import RecordingWriter


class _NoFlushWriter(RecordingWriter):
    """Reference: identical HDF5 work, no flush (not crash-safe: a kill loses the whole file)."""

    def _flush_data(self) -> None:
        pass

    def _flush(self) -> None:
        if self.ds:
            self.ds["status"][0] = self.status  # same work as the real _flush, minus the flush


def _protocol_docs(protocol: Path, seed: int = 1) -> tuple[RunStart, list[object], int]:
    from rig.experiment.runner import RunOptions, prepare

    plan, rig, _, _ = prepare(RunOptions(protocol=protocol))
    fs = rig.sample_rate_hz
    ctl = Controller(plan)
    stims, _, docs = ctl.schedule(plan.duration_samples + 1)
    n_ai = len(rig.ai)
    rng = np.random.default_rng(seed)
    out: list[object] = [d for d in docs if isinstance(d, (PhaseStart, Event))]
    for k, (s, uA, phase) in enumerate(stims):
        a, b = s.sweep_bounds()
        counts = rng.normal(0, 100, size=(n_ai, b - a)).astype(np.int16)
        pulses = s.sample + np.asarray(s.pulse_offsets, dtype=np.int64)
        out.append(Sweep(k, s.pathway, phase, s.kind, a, s.sample, pulses, uA, s.width_samples, counts, time.time()))
        out.append(Measured(k, s.pathway, phase, s.sample, np.zeros(len(pulses), dtype=detector.MEASUREMENT_DTYPE)))
    start = RunStart(fs, tuple(a.channel for a in rig.ai),
                     tuple(a.range_V / 32768 * 1e3 / g for a, g in zip(rig.ai, rig.scale_gains(), strict=True)),
                     plan.pathways, plan.name, plan.duration_samples, time.time(), seed=seed,
                     provenance={"protocol_text": protocol.read_text()})
    return start, out, plan.duration_samples


def _one(cls: type[RecordingWriter], path: Path, start: RunStart, docs: list[object], planned: int,
         fsync: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """(wall ms per sweep, CPU ms per sweep of this thread, file bytes)."""
    w = cls(path, len(start.ai_channels), {"created": "bench"}, fsync=fsync)
    w(start)
    wall, cpu = [], []
    t0 = c0 = 0.0
    for d in docs:
        if isinstance(d, Sweep):
            t0, c0 = time.perf_counter(), time.thread_time()
        w(d)
        if isinstance(d, Measured):
            wall.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.thread_time() - c0) * 1e3)
    w(RunStop(planned, "completed"))
    return np.asarray(wall), np.asarray(cpu), os.path.getsize(path)


def bench_storage(protocol: str | Path | None = None, directory: str | Path | None = None) -> dict:
    """Per-sweep write+flush time (ms) and bytes per hour for the standard TBS protocol."""
    from rig.bench.protocols import shipped_protocol as _protocol

    proto = Path(protocol) if protocol else _protocol("tbs_ltp.toml")
    start, docs, planned = _protocol_docs(proto)
    hours = planned / start.sample_rate_hz / 3600.0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    with tempfile.TemporaryDirectory(dir=directory) as d:
        base = Path(d)
        _one(RecordingWriter, base / "warm.h5", start, docs[:20], planned)  # warm caches and imports
        flush, flush_cpu, size = _one(RecordingWriter, base / "flush.h5", start, docs, planned)
        noflush, noflush_cpu, _ = _one(_NoFlushWriter, base / "noflush.h5", start, docs, planned)
        fsync, _, _ = _one(RecordingWriter, base / "fsync.h5", start, docs, planned, fsync=True)

    def pct(a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q))

    return {
        "write_ms_p50": pct(flush, 50),  # wall clock: includes waiting for a CPU on a loaded machine
        "write_ms_p99": pct(flush, 99),
        "write_cpu_ms_p50": pct(flush_cpu, 50),  # this thread's CPU time: the writer's own cost
        "write_cpu_ms_p99": pct(flush_cpu, 99),
        "write_noflush_ms_p50": pct(noflush, 50),
        "write_noflush_ms_p99": pct(noflush, 99),
        "write_noflush_cpu_ms_p50": pct(noflush_cpu, 50),
        "write_noflush_cpu_ms_p99": pct(noflush_cpu, 99),
        "write_fsync_ms_p50": pct(fsync, 50),
        "write_fsync_ms_p99": pct(fsync, 99),
        "storage_sweeps": int(len(flush)),
        "storage_file_bytes": int(size),
        "bytes_per_hour": float(size / hours),
        "storage_bench_loadavg_1min": load,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(bench_storage(), indent=1))
