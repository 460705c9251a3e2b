"""A whole simulated experiment (test pulses + theta-burst trains) through the engine: the
detector measures every pulse and never compiles a second signature mid-run."""

from __future__ import annotations

import numpy as np

from rig import detector as D
from rig.cli import main
from rig.storage import open_recording
from tests.conftest import tbs_toml

PROTOCOL = tbs_toml(1.0, 1.0, 10.0, bursts=3, name="detector online")


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
