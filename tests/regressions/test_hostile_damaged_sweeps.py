"""Regression of issue 17: a sweep whose samples fail their CRC-32 (a damaged file) still entered the
% of baseline through its stored measurement. The result (rig.analysis.results, the one place it
is computed) now leaves damaged sweeps out and says so."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from rig.analysis import results
from rig.storage import open_recording
from tests.storage_helpers import record


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("real"))


def test_a_damaged_baseline_sweep_never_enters_the_percent_of_baseline(real, tmp_path):
    p = tmp_path / "damaged.h5"
    shutil.copyfile(real, p)
    with open_recording(real) as r:
        m = r.measurements
        first = m[(m["pulse"] == 0) & (m["pathway"] == 0)]
        base_phase = results.compute(r).baseline_phase
        base = first[first["phase"] == base_phase]
        k = int(base["sweep_index"][-3])  # a test sweep that counts in the baseline (after the settling ones)
        row = r.sweep_table[k]
        before = results.compute(r).pathways[0]
        slope_k = float(base["slope_mV_per_ms"][base["sweep_index"] == k][0])
        want = (before.baseline_mean * before.n_baseline - slope_k) / (before.n_baseline - 1)
    with h5py.File(p, "r+") as f:  # damage the sweep's samples; its stored measurement says 50× the slope
        a, n = int(row["offset"]), int(row["n_samples"])
        f["samples"][a : a + n // 2] = 1234
        meas = f["measurements"][:]
        for i in np.flatnonzero((meas["sweep_index"] == k) & (meas["pulse"] == 0)):  # every version's row
            meas[i]["slope_mV_per_ms"] *= 50.0
            f["measurements"][i] = meas[i]
    with open_recording(p) as r:
        assert r.verify() == [k]
        got = results.compute(r).pathways[0]
    assert got.n_baseline == before.n_baseline - 1
    assert got.baseline_mean == pytest.approx(want, rel=1e-12)
    assert any("1 damaged sweeps" in w for w in got.warnings)
