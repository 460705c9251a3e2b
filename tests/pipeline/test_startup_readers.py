"""Start-up that nothing can break: a reader opening the new recording at any moment of start-up
(h5py, ``rig summary``, a file browser's preview) never stops the run (issue 16)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import baseline_toml

# One reader process for all runs: for each "PATH DELAY_S" line it waits for PATH to appear,
# waits DELAY_S, opens the file with a plain h5py reader (file lock and all), holds it 0.3 s.
READER = textwrap.dedent("""
    import os, sys, time, h5py
    print("ready", flush=True)
    for line in sys.stdin:
        path, delay = line.split()
        while not os.path.exists(path):
            time.sleep(0.001)
        time.sleep(float(delay))
        try:
            with h5py.File(path, "r"):
                time.sleep(0.3)
            print("opened", flush=True)
        except OSError as exc:  # refused (SWMR writer): the reader's problem, never the run's
            print("refused", type(exc).__name__, flush=True)
""")

DELAYS_S = [0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1,
            0.13, 0.16, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.7, 1.0]


def test_a_reader_opening_the_file_at_20_moments_of_start_up_never_stops_the_run(tmp_path):
    proto = tmp_path / "b.toml"
    proto.write_text(baseline_toml(1.0, 10.0))
    reader = subprocess.Popen([sys.executable, "-c", READER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    outcomes = []
    try:
        assert reader.stdout.readline().strip() == "ready"
        for k, delay in enumerate(DELAYS_S):
            out = tmp_path / f"run{k}.h5"
            reader.stdin.write(f"{out} {delay}\n")
            reader.stdin.flush()
            res = run_experiment(RunOptions(proto, out=out, seed=k, speed=None, control=False))
            outcomes.append(reader.stdout.readline().split()[0])
            assert res.stop.reason == "completed", (delay, res.stop)
            with open_recording(out) as rec:
                assert rec.complete and rec.n_sweeps == 6, delay
            assert not list(tmp_path.glob(".*.starting"))
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert len(outcomes) == len(DELAYS_S)
