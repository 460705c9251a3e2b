"""Start-up of the everyday commands, each beside ``python -c pass`` measured in the same run.

Each command runs in a fresh interpreter (as a user types it); the figure is the median wall time
of ``repeats`` runs, in ms.
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


def bench_startup(protocol: Path, recording: Path, repeats: int = 3) -> dict:
    """``startup_ms_python`` (reference), ``startup_ms_check``, ``startup_ms_summary``,
    ``startup_ms_analyze`` (``recording``: a whole experiment's file, ~240 sweeps)."""
    rig = [sys.executable, "-m", "rig.cli"]
    return {
        "startup_ms_python": _wall_ms([sys.executable, "-c", "pass"], repeats),
        "startup_ms_check": _wall_ms([*rig, "check", str(protocol)], repeats),
        "startup_ms_summary": _wall_ms([*rig, "summary", str(recording)], repeats),
        "startup_ms_analyze": _wall_ms([*rig, "analyze", str(recording), "--json"], repeats),
    }
