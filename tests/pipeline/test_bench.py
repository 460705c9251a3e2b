"""`rig bench` reports numbers with their references (no wall-clock assertions)."""

from __future__ import annotations

import json

from rig.bench.suite import bench_pipeline
from rig.cli import main
from tests.conftest import write_short_tbs


def test_pipeline_bench_reports_ratio_against_device_only(tmp_path):
    r = bench_pipeline(write_short_tbs(tmp_path, base_min=1, follow_min=1))
    assert r["pipeline_realtime_factor"] > 0 and r["device_only_realtime_factor"] > 0
    assert r["pipeline_sweeps"] == 6 + 1 + 6
    assert abs(r["pipeline_vs_device_only"] - r["pipeline_realtime_factor"] / r["device_only_realtime_factor"]) < 1e-9
    # at --speed max the engine reads ahead: far fewer device reads than 100 ms blocks
    assert 0 < r["pipeline_device_reads"] < r["pipeline_experiment_s"] * 10 / 4
    assert r["pipeline_blocks_per_read"] > 4 and r["device_batched_realtime_factor"] > 0
    assert r["floor_batched_realtime_factor"] > 0 and r["pipeline_vs_floor_batched"] > 0
    assert 0 < r["pipeline_engine_cpu_s"] and 0 < r["pipeline_process_cpu_s"]  # CPU: the engine's, every thread's


def test_bench_rejects_unknown_name(capsys):
    assert main(["bench", "--only", "nope", "--json"]) == 2
    assert "nope" in capsys.readouterr().err


def test_bench_json_is_one_document(tmp_path, monkeypatch, capsys):
    import rig.bench.suite as b

    monkeypatch.setitem(b.BENCHES, "pipeline", lambda: bench_pipeline(write_short_tbs(tmp_path, 0.5, 0.5)))
    assert main(["bench", "--json", "--only", "pipeline"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "pipeline_realtime_factor" in d


def test_sustained_bench_reports_lost_samples_and_cpu():
    from rig.bench.sustained import bench_sustained

    r = bench_sustained(minutes=0.05, channels=4, rate_hz=20_000.0, window=False)
    assert r["sustained_channels"] == 4 and r["sustained_experiment_s"] >= 3.0
    assert r["sustained_lost_samples"] == 0 and r["sustained_gaps"] == 0  # 10 s host buffer: no overflow
    assert r["sustained_cpu_percent"] > 0


def test_sustained_sites_bench_reports_every_site():
    from rig.bench.sites import bench_sustained_sites

    r = bench_sustained_sites(2, minutes=0.05, window=False)
    assert r["sustained_sites"] == 2 and set(r["sustained_sites_per_site"]) == {"S0", "S1"}
    assert r["sustained_sites_completed"] == 2 and r["sustained_sites_experiment_s"] >= 3.0
    assert r["sustained_sites_lost_samples"] == sum(p["lost_samples"] for p in r["sustained_sites_per_site"].values())
    assert 0.5 < r["sustained_sites_pacing_ratio"] < 1.5 and r["sustained_sites_cpu_percent"] > 0


def test_bench_only_startup_reports_each_command_beside_python(tmp_path, monkeypatch):
    import rig.bench.startup as st
    import rig.bench.suite as b

    monkeypatch.setitem(b.BENCHES, "startup", lambda: st.bench_startup_alone(write_short_tbs(tmp_path, 0.5, 0.5), 1))
    monkeypatch.setitem(b.BENCHES, "pipeline", lambda: {"pipeline_ran": 1})
    r = b.run_benches(["startup"])
    for k in ("python", "check", "summary", "analyze", "analyze_h5"):
        assert 0 < r[f"startup_min_ms_{k}"] <= r[f"startup_ms_{k}"]
    assert r["startup_vs_python_check"] == r["startup_ms_check"] / r["startup_ms_python"]
    assert "pipeline_ran" not in r
    assert "startup_ms_check" not in b.run_benches(["pipeline"])  # (the stub) and not run by default:
    assert "startup" in b.ONLY_WHEN_NAMED
