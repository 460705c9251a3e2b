"""rig.bench.detector returns the keys `rig bench` publishes (no timing asserted)."""

from rig.bench.detector import bench_detector


def test_bench_detector_keys():
    res = bench_detector(n_calls=200, n_reference=20, cold=False)
    for key in ("detector_us_median", "detector_us_p99", "reference_us_median", "speedup"):
        assert res[key] > 0
    assert res["detector_matches_reference"] is True
    assert res["detector_us_p99"] >= res["detector_us_median"]


def test_bench_reports_the_64_channel_sweep_beside_the_single_channel_one():
    from rig.bench.detector import bench_sweep

    res = bench_sweep(n_calls=20)
    assert res["detector_us_per_sweep"] > 0 and res["detector_us_per_sweep_64ch"] > 0
    assert res["mea_channels"] == 64 and res["mea_matches_single"] is True
    assert res["detector_us_per_sweep_64ch_p99"] >= res["detector_us_per_sweep_64ch"] >= \
        res["detector_us_per_sweep_64ch_p10"]
