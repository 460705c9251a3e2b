"""kill -9 campaign against the recorder: every file must open and keep every reported sweep.

Used by tests/test_crash.py (a few kills) and runnable on its own for a long campaign:

    .venv/bin/python tests/crash_campaign.py --kills 40 --parallel 2

Ground truth: a complete in-process run with the same seed (the simulator is deterministic for a
seed and a block size). "Reported complete" = the lines the writer appended to ``RIG_SWEEP_LOG``
after each sweep's flush, before the kill.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rig.core.errors import UserError
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from rig.storage.recover import recover

SHORT_PROTOCOL = """\
[experiment]
name = "Crash test"

[metadata]
genotype = "WT"
animal_id = "crash-1"
sex = "F"
age_days = 35
experimenter = "Doe, Jane"

[stimulation]
pathways = ["S1", "S2"]
intensity_uA = [100.0, 80.0]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 1.0
interval_s = 1.0

[[phases]]
kind = "induction"
name = "TBS"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
burst_interval_ms = 200.0
bursts = 5
trains = 2
train_interval_s = 5.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 1.0
interval_s = 1.0
"""


@dataclass
class Reference:
    sweeps: np.ndarray
    counts: list[np.ndarray]
    pulses: list[np.ndarray]
    meas: np.ndarray


@dataclass
class Tally:
    kills: int = 0
    moments: dict[str, int] = field(default_factory=dict)
    no_file: int = 0
    opened_directly: int = 0
    opened_after_recover: int = 0
    unreadable: int = 0
    kills_with_sweeps: int = 0
    sweeps_reported: int = 0
    sweeps_checked: int = 0
    failures: list[str] = field(default_factory=list)


def write_protocol(d: Path) -> Path:
    p = d / "crash.toml"
    p.write_text(SHORT_PROTOCOL)
    return p


def reference(protocol: Path, seed: int, out: Path) -> Reference:
    run_experiment(RunOptions(protocol=protocol, out=out, seed=seed, speed=None))
    with open_recording(out) as r:
        return Reference(r.sweep_table.copy(), [r.sweep_counts(i) for i in range(r.n_sweeps)],
                         [r.pulse_samples(i) for i in range(r.n_sweeps)], r.all_measurements.copy())


def recorder_cmd(protocol: Path, seed: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "rig.cli", "run", str(protocol), "--speed", "max", "--seed", str(seed),
            "--out", str(out), "--no-gui"]


def start(protocol: Path, seed: int, out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "RIG_SWEEP_LOG": str(log)}
    return subprocess.Popen(recorder_cmd(protocol, seed, out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> bool:
    """Poll until ``path`` exists (True) or the process ends / time runs out (False)."""
    t_end = time.perf_counter() + timeout
    while not path.exists():
        if proc.poll() is not None or time.perf_counter() > t_end:
            return False
        time.sleep(0.005)
    return True


def timed_full_run(protocol: Path, seed: int, d: Path) -> tuple[float, float]:
    """(start-up s, recording s) of one complete recorder process, to spread the kill moments over.

    Recording starts when the writer opens the sweep log (at RunStart)."""
    t0 = time.perf_counter()
    log = d / "full.log"
    p = start(protocol, seed, d / "full.h5", log)
    wait_for(log, p)
    t1 = time.perf_counter()
    if p.wait(timeout=300) != 0:
        raise RuntimeError("the full recorder run failed")
    return t1 - t0, time.perf_counter() - t1


def kill_at_random(proc: subprocess.Popen, log: Path, startup_s: float, record_s: float,
                   rng: random.Random) -> str:
    """SIGKILL during start-up (1 in 5) or at a uniform moment of the recording; returns which."""
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0, startup_s))
        where = "startup"
    else:
        wait_for(log, proc)
        time.sleep(rng.uniform(0, record_s))
        where = "recording"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return where


_SKIP = ("wall_time",)


def same_row(a: np.void, b: np.void) -> bool:
    def same(x: object, y: object) -> bool:  # NaN (no telegraph / monitor) equals NaN
        return bool(x == y) or (isinstance(x, np.floating) and np.isnan(x) and np.isnan(y))

    return all(same(a[n], b[n]) for n in a.dtype.names if n not in _SKIP)


def check_file(path: Path, log: Path, ref: Reference, tally: Tally, label: str) -> None:
    """Open (directly or after recover) and compare every sweep with the reference, bit for bit."""
    reported = {}
    if log.exists():
        for line in log.read_text().splitlines():
            i, crc = line.split()
            reported[int(i)] = int(crc)
    tally.sweeps_reported += len(reported)
    if reported:
        tally.kills_with_sweeps += 1
    if not path.exists():
        tally.no_file += 1
        if reported:
            tally.failures.append(f"{label}: no file but {len(reported)} sweeps reported")
        return
    try:
        rec = open_recording(path)
        tally.opened_directly += 1
    except UserError:
        clean = path.with_name(path.stem + "-recovered.h5")
        try:
            recover(path, clean)
            rec = open_recording(clean)
            tally.opened_after_recover += 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            tally.unreadable += 1
            tally.failures.append(f"{label}: unreadable even after recover: {exc}")
            return
    with rec:
        missing = sorted(set(reported) - set(range(rec.n_sweeps)))
        if missing:
            tally.failures.append(f"{label}: reported sweeps missing from the file: {missing[:5]}")
        bad = rec.verify()
        if bad:
            tally.failures.append(f"{label}: sweeps failing their CRC/bounds check: {bad[:5]}")
        for i in range(rec.n_sweeps):
            ok = (i < len(ref.counts) and same_row(rec.sweep_table[i], ref.sweeps[i])
                  and np.array_equal(rec.sweep_counts(i), ref.counts[i])
                  and np.array_equal(rec.pulse_samples(i), ref.pulses[i])
                  and (i not in reported or reported[i] == int(rec.sweep_table["crc32"][i])))
            # every version's rows of the sweep (the auto windows re-measure the first ones): a killed
            # file holds the reference's rows up to where it died, in the same order
            mine = rec.all_measurements[rec.all_measurements["sweep_index"] == i]
            theirs = ref.meas[ref.meas["sweep_index"] == i]
            ok = ok and len(mine) > 0 and mine.tobytes() == theirs[:len(mine)].tobytes()
            if not ok:
                tally.failures.append(f"{label}: sweep {i} differs from the reference")
            tally.sweeps_checked += 1


def campaign(d: Path, kills: int, parallel: int = 2, seed: int = 11, rng_seed: int = 0) -> Tally:
    """Run ``kills`` recorders, each SIGKILLed at a random moment of its run, and check every file."""
    d.mkdir(parents=True, exist_ok=True)
    protocol = write_protocol(d)
    ref = reference(protocol, seed, d / "reference.h5")
    startup_s, record_s = timed_full_run(protocol, seed, d)
    tally = Tally()
    k = 0
    while k < kills:
        batch = []
        for _ in range(min(parallel, kills - k)):
            out, log = d / f"kill{k:03d}.h5", d / f"kill{k:03d}.log"
            batch.append((k, out, log, start(protocol, seed, out, log), random.Random(rng_seed * 100003 + k)))
            k += 1
        with ThreadPoolExecutor(len(batch)) as ex:
            wheres = list(ex.map(lambda b: kill_at_random(b[3], b[2], startup_s, record_s, b[4]), batch))
        for (j, out, log, _, _), where in zip(batch, wheres, strict=True):
            tally.kills += 1
            tally.moments[where] = tally.moments.get(where, 0) + 1
            check_file(out, log, ref, tally, f"kill {j} ({where})")
    return tally


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kills", type=int, default=40)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("crash-campaign"))
    ap.add_argument("--rng-seed", type=int, default=0)
    a = ap.parse_args()
    t = campaign(a.dir, a.kills, a.parallel, rng_seed=a.rng_seed)
    print(json.dumps(asdict(t), indent=1))
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
