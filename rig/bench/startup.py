"""Start-up of the everyday commands, each beside ``python -c pass`` measured in the same run.

Each command runs in a fresh interpreter (as a user types it), the commands interleaved run by
run; ``startup_ms_<command>`` is the median wall time of ``repeats`` runs, ``startup_min_ms_<command>``
the fastest (steadier on a shared machine), in ms. ``rig analyze`` is timed on a 240-sweep ABF
(synthetic fEPSPs written with pyabf's ABF1 writer, 10 kHz, 100 ms sweeps) and on the run's own
recording. ``rig bench --only startup`` runs this alone (7 runs each) on a fresh ``tbs_ltp`` recording.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall_ms(commands: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    """Wall times (ms) of each command, run ``repeats`` times interleaved (one of each per round)."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for k, argv in commands.items():
            t0 = time.perf_counter()
            r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            times[k].append((time.perf_counter() - t0) * 1e3)
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    return times


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
    ABF) and ``startup_ms_analyze_h5`` (``recording``), each also as ``startup_min_ms_*``, with
    each one's ratio (median) to python's."""
    rig = [sys.executable, "-m", "rig.cli"]
    abf = write_abf240(Path(recording).with_name("startup240.abf"))
    times = _wall_ms({
        "python": [sys.executable, "-c", "pass"],
        "check": [*rig, "check", str(protocol)],
        "summary": [*rig, "summary", str(recording)],
        "analyze": [*rig, "analyze", str(abf), "--json"],
        "analyze_h5": [*rig, "analyze", str(recording), "--json"],
    }, repeats)
    out = {f"startup_ms_{k}": statistics.median(v) for k, v in times.items()}
    out |= {f"startup_min_ms_{k}": min(v) for k, v in times.items()}
    py = out["startup_ms_python"]
    for k in ("check", "summary", "analyze", "analyze_h5"):
        out[f"startup_vs_python_{k}"] = out[f"startup_ms_{k}"] / py
    return out


def bench_startup_alone(protocol: str | Path = "tbs_ltp.toml", repeats: int = 7) -> dict:
    """:func:`bench_startup` on a fresh simulated run of ``protocol`` (seed 1, as fast as possible)."""
    import tempfile

    from rig.bench.protocols import shipped_protocol
    from rig.experiment.runner import RunOptions, run_experiment

    opts = RunOptions(protocol=shipped_protocol(protocol), seed=1, speed=None)
    with tempfile.TemporaryDirectory() as d:
        opts.out = Path(d) / "startup.h5"
        res = run_experiment(opts)
        return bench_startup(opts.protocol, res.path, repeats)
