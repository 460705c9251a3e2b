"""Regressions of start-up (issue 16): a reader opening the new recording during start-up killed
the run (HDF5 "unable to lock file, errno 11"). Each test failed on the code before the fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from rig import detector
from rig.core.documents import Measured, RunStart, RunStop, Sweep
from rig.storage import RecordingWriter, open_recording

HOLDER = textwrap.dedent("""
    import sys, time, h5py
    f = h5py.File(sys.argv[1], "r")  # a plain reader: HDF5 takes a file lock
    print("open", flush=True)
    sys.stdin.readline()  # hold it until told
    f.close()
""")


def test_a_reader_holding_the_new_file_never_stops_the_recording(tmp_path):
    path = tmp_path / "r.h5"
    w = RecordingWriter(path, 1, {"created": "now"})
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        start = RunStart(20000.0, ("ai0",), (0.01,), (0,), "t", 10**6, 0.0, seed=1, provenance={})
        w(start)  # before the fix: OSError "unable to lock file, errno 11" → StorageError
        counts = np.arange(400, dtype=np.int16)[None, :]
        for i in range(3):
            w(Sweep(i, 0, 0, "test", 1000 * i, 1000 * i + 100, np.array([1000 * i + 100]), 50.0, 2, counts, 0.0))
            w(Measured(i, 0, 0, 1000 * i + 100, np.zeros(1, dtype=detector.MEASUREMENT_DTYPE)))
        w(RunStop(4000, "completed"))
    finally:
        holder.communicate("\n", timeout=30)
    assert w.failed is None and w.saved_sweeps == 3
    with open_recording(path) as rec:
        assert rec.n_sweeps == 3 and rec.complete
    assert not w.starting_path.exists()
