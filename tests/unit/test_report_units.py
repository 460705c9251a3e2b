"""Units of rig.analysis.report without simulation: binning, effect sizes, grouping labels and order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rig.analysis.report.collect import Experiment, Phase
from rig.analysis.report.groups import make_groups
from rig.analysis.report.stats import compare_groups, eta_squared_ci, hedges_g, rank_biserial
from rig.analysis.report.timecourse import group_timecourse, slice_bins


def fake(name: str, meta: dict, pct: np.ndarray, dt_s: float = 10.0, align_s: float = 300.0) -> Experiment:
    t = np.arange(len(pct)) * dt_s + 5.0
    return Experiment(path=Path(f"{name}.h5"), metadata=meta, protocol="P", signature="tbs", pathway=0,
                      align_s=align_s, magnitude_pct=float(np.mean(pct[-60:])), baseline_slope=-0.3,
                      time_s={0: t}, norm_pct={0: pct}, phases=[Phase("baseline", "baseline", 0.0, align_s)],
                      duration_s=float(t[-1] + 5.0))


def test_bins_are_aligned_to_the_induction_and_weigh_each_slice_once() -> None:
    pct = np.r_[np.full(30, 100.0), np.full(90, 150.0)]  # 5 min at 100 %, then 15 min at 150 %
    e = fake("a", {}, pct)
    b = slice_bins(e, 1.0)
    assert b["bin"].iloc[0] == -5 and b["t_min"].iloc[0] == pytest.approx(-4.5)
    assert np.all(b.loc[b["bin"] < 0, "pct"] == 100.0) and np.all(b.loc[b["bin"] >= 0, "pct"] == 150.0)
    assert set(b["n_sweeps"]) == {6}
    b2 = slice_bins(e, 2.5)
    assert b2["bin"].iloc[0] == -2 and set(b2["n_sweeps"]) == {15}
    # a slice sampled twice as often must not weigh twice
    dense = fake("b", {}, np.r_[np.full(60, 200.0), np.full(180, 200.0)], dt_s=5.0)
    tc = group_timecourse([e, dense], 1.0)
    assert tc.loc[tc["bin"] == 3, "mean"].iloc[0] == pytest.approx(175.0)
    assert tc.loc[tc["bin"] == 3, "sem"].iloc[0] == pytest.approx(np.std([150, 200], ddof=1) / np.sqrt(2))
    with pytest.raises(ValueError):
        slice_bins(e, 0.0)


def test_groups_order_controls_first_then_ascending_concentration() -> None:
    pct = np.full(120, 100.0)
    exps = [
        fake("c", {"drug": "basimglurant", "concentration_uM": 0.3, "genotype": "WT"}, pct),
        fake("d", {"drug": "basimglurant", "concentration_uM": 0.03, "genotype": "Fmr1-KO"}, pct),
        fake("v", {"drug": "vehicle", "genotype": "Fmr1-KO"}, pct),
        fake("w", {"drug": "vehicle", "genotype": "WT"}, pct),
        fake("x", {"genotype": "WT"}, pct),
    ]
    groups, excluded = make_groups(exps, "drug")
    assert list(groups) == ["no drug", "vehicle", "basimglurant 0.03 µM", "basimglurant 0.3 µM"]
    assert excluded == []
    assert [e.name for e in groups["vehicle"]] == ["v", "w"]
    crossed, _ = make_groups(exps, "genotype,drug")
    assert list(crossed)[:2] == ["WT · no drug", "WT · vehicle"]
    assert list(crossed)[-1] == "Fmr1-KO · basimglurant 0.03 µM"
    _, missing = make_groups(exps, "animal_id")
    assert len(missing) == 5 and "animal_id" in missing[0].reason


def test_hedges_g_and_rank_biserial_match_definitions() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(100, 10, 8), rng.normal(120, 10, 10)
    sp = np.sqrt((7 * a.var(ddof=1) + 9 * b.var(ddof=1)) / 16)
    g, lo, hi = hedges_g(a, b)
    assert g == pytest.approx((b.mean() - a.mean()) / sp * (1 - 3 / (4 * 18 - 9)))
    assert lo < g < hi
    u = stats.mannwhitneyu(a, b).statistic
    assert rank_biserial(a, b) == pytest.approx(1 - 2 * u / (8 * 10))


def test_eta_squared_ci_inverts_the_noncentral_f() -> None:
    eta2, lo, hi = eta_squared_ci(10.0, 2, 21)
    assert eta2 == pytest.approx(20 / 41)
    n = 24
    lam_lo, lam_hi = lo * n / (1 - lo), hi * n / (1 - hi)
    assert stats.ncf.cdf(10.0, 2, 21, lam_lo) == pytest.approx(0.975, abs=1e-6)
    assert stats.ncf.cdf(10.0, 2, 21, lam_hi) == pytest.approx(0.025, abs=1e-6)
    assert eta_squared_ci(0.3, 2, 21)[1] == 0.0  # F below its null median: the CI reaches 0


def test_too_small_groups_are_reported_not_tested() -> None:
    t = pd.DataFrame({"group": ["a", "a", "b"], "animal_id": ["", "", ""], "magnitude_pct": [100.0, 110.0, 150.0]})
    st = compare_groups(t)
    assert list(st["test"]) == ["none"] and "b" in st["note"].iloc[0]
    one = compare_groups(t[t["group"] == "a"])
    assert "fewer than two groups" in one["note"].iloc[0]


def test_figures_label_axes_with_units_and_use_okabe_ito(tmp_path: Path) -> None:
    from matplotlib.colors import to_hex

    from rig.analysis.report import figures
    from rig.analysis.report.timecourse import all_group_timecourses

    rng = np.random.default_rng(2)
    groups = {"vehicle": [fake(f"v{i}", {"animal_id": f"A{i}"}, 100 + rng.normal(0, 5, 120)) for i in range(3)],
              "drug 1 µM": [fake(f"d{i}", {"animal_id": f"B{i}"}, 130 + rng.normal(0, 5, 120)) for i in range(3)]}
    fig = figures.main_figure(groups, all_group_timecourses(groups, 1.0))
    a, b = fig.axes[:2]
    assert a.get_xlabel() == "Time from induction (min)" and "(% of baseline)" in a.get_ylabel()
    assert "(% of baseline)" in b.get_ylabel()
    legend = [t.get_text() for t in a.get_legend().get_texts()]
    assert legend == ["vehicle (n = 3 slices / N = 3 animals)", "drug 1 µM (n = 3 slices / N = 3 animals)"]
    line_colours = {to_hex(line.get_color()).upper() for line in a.get_lines() if line.get_label()[:1] != "_"}
    assert line_colours <= set(figures.OKABE_ITO)
    figures.save(fig, tmp_path / "main.png")

    e = groups["vehicle"][0]
    t_ms = np.arange(-20, 80, 0.05)
    e.traces = {"baseline": (t_ms, -np.exp(-np.clip(t_ms - 3, 0, None) / 10) * (t_ms > 3)),
                "follow-up": (t_ms, -1.5 * np.exp(-np.clip(t_ms - 3, 0, None) / 10) * (t_ms > 3))}
    e.io_curve = (np.array([25.0, 50.0, 100.0]), np.array([-0.05, -0.2, -0.4]))
    e.ppr_curve = (np.array([20.0, 50.0, 200.0]), np.array([1.2, 1.5, 1.1]))
    fig = figures.experiment_figure(e)
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert labels == ["Time from induction (min)", "Time from stimulus (ms)", "Stimulus intensity (µA)",
                      "Inter-pulse interval (ms)"]
    assert figures.save(fig, tmp_path / "e.svg").stat().st_size > 1000


class _FakeRec:
    """The parts of rig.storage.Recording that the I/O and PPR extraction read."""

    def __init__(self, sweeps: list[tuple[str, int, float, tuple[int, ...]]], slopes: list[list[float]]) -> None:
        from rig.detector.measurement import MEASUREMENT_DTYPE
        from rig.storage.layout import SWEEP_DTYPE, measurement_dtype

        self.sample_rate_hz = 10000.0
        self.sweep_table = np.zeros(len(sweeps), SWEEP_DTYPE)
        self._pulses = []
        rows = []
        for i, ((kind, phase, ua, pulses), sl) in enumerate(zip(sweeps, slopes, strict=True)):
            self.sweep_table[i]["index"], self.sweep_table[i]["kind"] = i, kind.encode()
            self.sweep_table[i]["phase"], self.sweep_table[i]["intensity_uA"] = phase, ua
            self._pulses.append(np.asarray(pulses, dtype=np.int64) + i * 100000)
            for k, s in enumerate(sl):
                rows.append({"sweep_index": i, "pulse": k, "phase": phase, "sample": int(self._pulses[-1][k]),
                             "slope_mV_per_ms": s})
        self.measurements = np.zeros(len(rows), measurement_dtype(MEASUREMENT_DTYPE))
        for j, r in enumerate(rows):
            for name, v in r.items():
                self.measurements[j][name] = v

    def pulse_samples(self, i: int) -> np.ndarray:
        return self._pulses[i]


def test_io_curve_and_paired_pulse_ratio_are_extracted() -> None:
    from rig.analysis.report.collect import _io_curve, _ppr_curve

    sweeps = [("io", 0, 50.0, (0,)), ("io", 0, 50.0, (0,)), ("io", 0, 100.0, (0,)),
              ("paired", 1, 100.0, (0, 500)), ("paired", 1, 100.0, (0, 500)), ("paired", 1, 100.0, (0, 2000)),
              ("paired", 3, 100.0, (0, 500)),  # a paired-pulse LFS induction sweep: not a PPR measurement
              ("test", 2, 100.0, (0,))]
    slopes = [[-0.1], [-0.2], [-0.5], [-0.4, -0.6], [-0.4, -0.64], [-0.5, -0.55], [-0.4, -0.8], [-0.4]]
    phases = [Phase("I/O", "io_curve", 0, 1), Phase("PPF", "paired_pulse", 1, 2), Phase("baseline", "baseline", 2, 3),
              Phase("pp-LFS", "induction", 3, 4)]
    rec = _FakeRec(sweeps, slopes)
    ua, slope = _io_curve(rec)
    assert list(ua) == [50.0, 100.0] and slope == pytest.approx([-0.15, -0.5])
    isi, ppr = _ppr_curve(rec, phases)
    assert list(isi) == [50.0, 200.0]  # ms at 10 kHz
    assert ppr == pytest.approx([(1.5 + 1.6) / 2, 1.1])
