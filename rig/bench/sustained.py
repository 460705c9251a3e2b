"""Sustained acquisition: many channels at a high rate, paced to the wall clock, with the window
open and storage running. Reports lost samples and the process's CPU use.

The simulated board has a 10 s host buffer like an NI board, so a program that falls behind loses
samples (counted as gaps) exactly as it would at the rig.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from rig.bench.protocols import bench_protocol_text
from rig.protocol.rigfile import default_rig_text


def _rig_text(channels: int, rate_hz: float) -> str:
    text = default_rig_text().replace("sample_rate_hz = 20000.0", f"sample_rate_hz = {rate_hz}")
    ai = "".join(f'\n[[ai]]\nname = "ch{k}"\nchannel = "ai{k}"\nrange_V = 10.0\ngain = 1000.0\n'
                 for k in range(1, channels))
    return text.replace("\n[[stim]]", ai + "\n[[stim]]", 1)


def bench_sustained(minutes: float = 10.0, channels: int = 8, rate_hz: float = 50_000.0,
                    window: bool = True) -> dict:
    """Run a paced simulated recording; lost samples and CPU %, with the pacing as reference."""
    from rig.experiment.runner import RunOptions, run_in_thread

    with tempfile.TemporaryDirectory() as d:
        proto, rig = Path(d) / "p.toml", Path(d) / "rig.toml"
        proto.write_text(bench_protocol_text(minutes, "sustained acquisition"))
        rig.write_text(_rig_text(channels, rate_hz))
        opts = RunOptions(protocol=proto, rig=rig, out=Path(d) / "s.h5", speed=1.0, control=False)
        cpu0, t0 = os.times(), time.perf_counter()
        if window:
            from rig.experiment.windowed import run_with_window

            result, error, _ = run_with_window(opts, close_on_stop=True)
        else:
            result, error, _ = run_in_thread(opts)
        wall = time.perf_counter() - t0
        cpu1 = os.times()
        if error is not None:
            raise error
        st = result.engine.stats
        exp_s = result.stop.sample / rate_hz
        size = os.path.getsize(result.path)
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "sustained_channels": channels,
        "sustained_rate_hz": rate_hz,
        "sustained_window": window,
        "sustained_experiment_s": exp_s,
        "sustained_wall_s": wall,
        "sustained_pacing_ratio": exp_s / wall,  # reference: 1.0 = paced to the wall clock
        "sustained_lost_samples": int(st.lost_samples),
        "sustained_gaps": int(st.gaps),
        "sustained_late_writes": int(st.late_writes),
        "sustained_sweeps": int(st.sweeps),
        "sustained_cpu_percent": 100.0 * cpu / wall,  # of one core
        "sustained_cores": os.cpu_count(),
        "sustained_file_bytes": size,
    }
