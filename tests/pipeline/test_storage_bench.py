"""bench_storage: the figures `rig bench` reports for storage, with their same-run references."""

from __future__ import annotations

import numpy as np
import pytest

from rig.bench.storage import bench_storage


def test_bench_storage_reports_write_times_and_size_for_the_tbs_protocol(tmp_path):
    r = bench_storage(directory=tmp_path)
    assert r["storage_sweeps"] == 243  # 60 + 180 test sweeps + 3 TBS trains of tbs_ltp.toml
    for k in ("write_ms_p50", "write_ms_p99", "write_cpu_ms_p50", "write_noflush_ms_p50", "write_fsync_ms_p50"):
        assert np.isfinite(r[k]) and r[k] > 0
    assert r["write_ms_p50"] <= r["write_ms_p99"]
    # 80.4 min of 100 ms int16 sweeps at 20 kHz (~4 kB each) plus tables: about 1 MB per hour
    assert 0.5e6 < r["bytes_per_hour"] < 3e6
    assert r["storage_file_bytes"] == pytest.approx(r["bytes_per_hour"] * 80.4 / 60, rel=2e-3)
