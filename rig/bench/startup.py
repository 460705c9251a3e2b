"""Start-up of the everyday commands, each beside ``python -c pass`` measured in the same run.

Each command runs in a fresh interpreter (as a user types it); the figure is the median wall time
of ``repeats`` runs, in ms. ``rig analyze`` is timed on a 240-sweep ABF (synthetic fEPSPs written
with pyabf's ABF1 writer, 10 kHz, 100 ms sweeps) and on the run's own recording.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall_ms(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append((time.perf_counter() - t0) * 1e3)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return statistics.median(times)


def write_abf240(path: Path, n_sweeps: int = 240) -> Path:
    """A 240-sweep ABF1 file of synthetic CA1 fEPSPs (two alternating amplitudes, 20 µV noise)."""
    import numpy as np
    import pyabf.abfWriter

    from rig.bench.fepsp_synth import Synth

    sweeps = np.stack([Synth(fs_hz=10000.0, amplitude_mV=(-0.5, -0.3)[i % 2], noise_uV=20.0, seed=i, pre_ms=30.0,
                             post_ms=70.0).trace() for i in range(n_sweeps)])
    pyabf.abfWriter.writeABF1(sweeps, str(path), 10000.0, units="mV")
    return path


def bench_startup(protocol: Path, recording: Path, repeats: int = 3) -> dict:
    """``startup_ms_python`` (reference), ``startup_ms_check``, ``startup_ms_summary`` (on
    ``recording``, a whole experiment's file, ~240 sweeps), ``startup_ms_analyze`` (a 240-sweep
    ABF) and ``startup_ms_analyze_h5`` (``recording``), with each one's ratio to python's."""
    rig = [sys.executable, "-m", "rig.cli"]
    abf = write_abf240(Path(recording).with_name("startup240.abf"))
    out = {
        "startup_ms_python": _wall_ms([sys.executable, "-c", "pass"], repeats),
        "startup_ms_check": _wall_ms([*rig, "check", str(protocol)], repeats),
        "startup_ms_summary": _wall_ms([*rig, "summary", str(recording)], repeats),
        "startup_ms_analyze": _wall_ms([*rig, "analyze", str(abf), "--json"], repeats),
        "startup_ms_analyze_h5": _wall_ms([*rig, "analyze", str(recording), "--json"], repeats),
    }
    py = out["startup_ms_python"]
    for k in ("check", "summary", "analyze", "analyze_h5"):
        out[f"startup_vs_python_{k}"] = out[f"startup_ms_{k}"] / py
    return out
