"""A whole simulated experiment (test pulses + theta-burst trains) through the engine: the
detector measures every pulse and never compiles a second signature mid-run."""

from __future__ import annotations

import numpy as np

from rig import detector as D
from rig.cli import main
from rig.storage import open_recording

PROTOCOL = """
[experiment]
name = "detector online"

[stimulation]
pathways = ["S1"]
intensity_uA = [100.0]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 1.0
interval_s = 10.0

[[phases]]
kind = "induction"
name = "TBS"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = 3
burst_interval_ms = 200.0
trains = 1
train_interval_s = 10.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 1.0
interval_s = 10.0
"""


def test_whole_simulated_run_single_signature_and_every_pulse_measured(tmp_path, capsys):
    (tmp_path / "p.toml").write_text(PROTOCOL)
    out = tmp_path / "r.h5"
    assert main(["run", str(tmp_path / "p.toml"), "--sim", "--speed", "max", "--seed", "2",
                 "--no-gui", "--out", str(out)]) == 0
    capsys.readouterr()
    for fn in D.JITTED:
        assert len(fn.signatures) <= 1, (fn, fn.signatures)
    assert len(D._measure_kernel.signatures) == 1
    assert len(D._measure_one.signatures) == 1
    with open_recording(out) as rec:
        n_pulses = int(rec.sweep_table["n_pulses"].sum())
        m = rec.measurements
        assert len(m) == n_pulses
        test = m[(m["pulse"] == 0) & (np.isin(m["sweep_index"], np.flatnonzero(rec.sweep_table["n_pulses"] == 1)))]
    # the simulated slice responds: test sweeps measured without flags, negative slopes
    assert np.all(test["flags"] & (D.SATURATED | D.WINDOW_OUTSIDE | D.NONFINITE) == 0)
    assert np.all(test["slope_mV_per_ms"] < 0) and np.all(test["amplitude_mV"] < 0)
