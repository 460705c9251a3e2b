"""rig report on recordings simulated with the simple slice: exclusions, direction of the effect,
and statistics equal to scipy/statsmodels computed directly on the exported per-slice numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from rig.analysis.report import make_report
from rig.analysis.report.stats import compare_groups
from rig.analysis.summary import summarize
from rig.cli import main
from rig.storage import open_recording
from tests.report_data import simulate


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """4 × TBS (vehicle: animal A1 twice; drugX 1 µM: animals A2, A3), 2 × baseline only (animal B1),
    one recording too short for a result, one file that is not HDF5."""
    d = tmp_path_factory.mktemp("recs")
    tbs = [
        simulate(d, "tbs_veh_1", {"drug": "vehicle", "animal_id": "A1", "slice_id": "1"}, seed=11, baseline_min=3.0,
                 follow_min=10.5),
        simulate(d, "tbs_veh_2", {"drug": "vehicle", "animal_id": "A1", "slice_id": "2"}, seed=12, baseline_min=3.0,
                 follow_min=10.5),
        simulate(d, "tbs_x_1", {"drug": "drugX", "concentration_uM": 1.0, "animal_id": "A2", "slice_id": "1"},
                 seed=13, baseline_min=3.0, follow_min=10.5),
        simulate(d, "tbs_x_2", {"drug": "drugX", "concentration_uM": 1.0, "animal_id": "A3", "slice_id": "1"},
                 seed=14, baseline_min=3.0, follow_min=10.5),
    ]
    base = [
        simulate(d, f"base_{i}", {"drug": "vehicle", "animal_id": "B1", "slice_id": str(i)}, seed=20 + i,
                 induction=False, baseline_min=3.0, follow_min=10.5)
        for i in (1, 2)
    ]
    short = simulate(d, "short", {"drug": "vehicle"}, seed=30, baseline_min=2.0, follow_min=3.0)
    nobase = simulate(d, "nobase", {"drug": "vehicle"}, seed=31, baseline_min=None, follow_min=1.0)
    bad = d / "not_hdf5.h5"
    bad.write_text("this is not a recording")
    return {"tbs": tbs, "base": base, "short": [short, nobase], "bad": [bad]}


@pytest.fixture(scope="module")
def by_protocol(recordings: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory):
    files = recordings["tbs"] + recordings["base"] + recordings["short"] + recordings["bad"]
    return make_report(files, tmp_path_factory.mktemp("rep_protocol"), group_by="protocol", per_experiment=False)


def test_tbs_potentiates_relative_to_baseline_only(by_protocol) -> None:
    g = by_protocol.groups.set_index("group")
    assert list(g.index) == ["Baseline short", "TBS short"]
    assert g.loc["TBS short", "n_slices"] == 4 and g.loc["Baseline short", "n_slices"] == 2
    assert g.loc["TBS short", "mean_pct"] > 130.0
    assert 90.0 < g.loc["Baseline short", "mean_pct"] < 110.0
    welch = by_protocol.stats.set_index("test").loc["Welch t-test"]
    assert welch["estimate"] > 30.0 and welch["p"] < 0.05 and welch["ci_low"] > 0


def test_exclusions_are_listed_with_reasons(by_protocol, recordings) -> None:
    reasons = {e.path.name: e.reason for e in by_protocol.excluded}
    assert set(reasons) == {"short.h5", "nobase.h5", "not_hdf5.h5"}
    assert "shorter than the 10-min result window" in reasons["short.h5"]
    assert "missing baseline" in reasons["nobase.h5"]
    assert "unreadable" in reasons["not_hdf5.h5"]
    csv = pd.read_csv(by_protocol.files["excluded"])
    assert sorted(Path(f).name for f in csv["file"]) == ["nobase.h5", "not_hdf5.h5", "short.h5"]
    html = by_protocol.files["html"].read_text()
    assert "short.h5" in html and "not_hdf5.h5" in html and "Welch t-test" in html


def test_magnitudes_are_the_summary_results(by_protocol, recordings) -> None:
    slices = pd.read_csv(by_protocol.files["slices"])
    for p in recordings["tbs"] + recordings["base"]:
        with open_recording(p) as rec:
            expected = summarize(rec)["ltp_percent"]
        got = slices.loc[slices["file"] == str(p), "magnitude_pct"]
        assert got.iloc[0] == pytest.approx(expected, rel=1e-12)


def test_time_course_is_aligned_to_the_induction(by_protocol) -> None:
    tc = pd.read_csv(by_protocol.files["timecourse"])
    tbs = tc[tc["group"] == "TBS short"]
    before = tbs[tbs["t_min"] < 0]
    after = tbs[(tbs["t_min"] > 2) & (tbs["t_min"] < 10)]
    assert len(before) == 3 and before["t_min"].max() == pytest.approx(-0.5)  # 3 min baseline, 1-min bins
    assert np.all(np.abs(before["mean"] - 100.0) < 10.0)
    assert np.all(after["mean"] > 125.0)
    assert set(tbs["n"]) == {4}
    assert np.all(tbs["sem"] > 0)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_two_group_stats_equal_scipy_and_statsmodels_on_exported_numbers(by_protocol) -> None:
    slices = pd.read_csv(by_protocol.files["slices"], keep_default_na=False)
    st = pd.read_csv(by_protocol.files["stats"]).set_index("test")
    a = slices.loc[slices["group"] == "Baseline short", "magnitude_pct"].to_numpy(float)
    b = slices.loc[slices["group"] == "TBS short", "magnitude_pct"].to_numpy(float)
    t = stats.ttest_ind(b, a, equal_var=False)
    ci = t.confidence_interval()
    assert st.loc["Welch t-test", "statistic"] == pytest.approx(t.statistic, rel=1e-9)
    assert st.loc["Welch t-test", "p"] == pytest.approx(t.pvalue, rel=1e-9)
    assert (st.loc["Welch t-test", "ci_low"], st.loc["Welch t-test", "ci_high"]) == pytest.approx((ci.low, ci.high))
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert st.loc["Mann–Whitney U", "statistic"] == pytest.approx(mw.statistic)
    assert st.loc["Mann–Whitney U", "p"] == pytest.approx(mw.pvalue, rel=1e-9)
    # mixed model: random intercept per animal (A1 gave 2 slices, B1 gave 2)
    d = slices.assign(tbs=(slices["group"] == "TBS short").astype(int))
    fit = smf.mixedlm("magnitude_pct ~ tbs", d, groups=d["animal_id"]).fit(reml=True)
    lmm = st.loc["linear mixed model"]
    assert lmm["estimate"] == pytest.approx(fit.params["tbs"], rel=1e-6)
    assert lmm["p"] == pytest.approx(fit.pvalues["tbs"], rel=1e-4, abs=1e-12)


def test_group_by_drug_excludes_other_protocols(recordings, tmp_path: Path) -> None:
    files = recordings["tbs"] + recordings["base"]
    rep = make_report(files, tmp_path / "rep", group_by="drug", fmt="svg")
    assert list(rep.groups["group"]) == ["vehicle", "drugX 1 µM"]
    excluded = {e.path.name: e.reason for e in rep.excluded}
    assert set(excluded) == {"base_1.h5", "base_2.h5"}
    assert all("different protocol" in r for r in excluded.values())
    assert (tmp_path / "rep" / "figure_main.svg").is_file()
    assert len(list((tmp_path / "rep" / "experiments").glob("*.svg"))) == 4
    assert "<svg" not in rep.files["html"].read_text()[:200]  # figures are embedded as data URIs
    assert "data:image/svg+xml;base64," in rep.files["html"].read_text()
    slices = pd.read_csv(rep.files["slices"])
    a = slices.loc[slices["group"] == "vehicle", "magnitude_pct"].to_numpy(float)
    b = slices.loc[slices["group"] == "drugX 1 µM", "magnitude_pct"].to_numpy(float)
    st = rep.stats.set_index("test")
    assert st.loc["Welch t-test", "p"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue, rel=1e-9)


def test_many_group_stats_equal_scipy(by_protocol) -> None:
    """Three groups from the exported per-slice numbers: ANOVA, Kruskal–Wallis, Tukey HSD."""
    slices = pd.read_csv(by_protocol.files["slices"], keep_default_na=False)
    slices["group"] = ["g1", "g1", "g2", "g2", "g3", "g3"][: len(slices)]
    st = compare_groups(slices)
    samples = [slices.loc[slices["group"] == g, "magnitude_pct"].to_numpy(float) for g in ("g1", "g2", "g3")]
    anova = st[st["test"] == "one-way ANOVA"].iloc[0]
    f = stats.f_oneway(*samples)
    assert anova["statistic"] == pytest.approx(f.statistic) and anova["p"] == pytest.approx(f.pvalue)
    assert anova["ci_low"] <= anova["estimate"] <= anova["ci_high"]
    kw = st[st["test"] == "Kruskal–Wallis"].iloc[0]
    assert kw["p"] == pytest.approx(stats.kruskal(*samples).pvalue)
    tk = stats.tukey_hsd(*samples)
    row = st[(st["test"] == "Tukey HSD") & (st["comparison"] == "g3 vs g1")].iloc[0]
    assert row["estimate"] == pytest.approx(np.mean(samples[2]) - np.mean(samples[0]))
    assert row["p"] == pytest.approx(tk.pvalue[0, 2])
    holm = st[st["test"] == "Mann–Whitney U (Holm)"]
    assert len(holm) == 3 and np.all(holm["p_adj"] >= holm["p"])


def test_cli_report_json_and_exit_codes(recordings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    files = [str(p) for p in recordings["tbs"] + recordings["bad"]]
    rc = main(["report", *files, "--group-by", "drug", "--out", str(out), "--json", "--no-experiments"])
    captured = capsys.readouterr()
    assert rc == 0
    doc = json.loads(captured.out)
    assert [g["group"] for g in doc["groups"]] == ["vehicle", "drugX 1 µM"]
    assert [Path(e["file"]).name for e in doc["excluded"]] == ["not_hdf5.h5"]
    assert "excluded:" in captured.err and "not_hdf5.h5" in captured.err
    assert (out / "report.html").is_file() and (out / "stats.csv").is_file()
    assert main(["report", "--out", str(tmp_path / "none")]) == 2
    assert main(["report", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "m")]) == 2
    assert main(["report", *files, "--bin-min", "0", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "no input" in err and "Traceback" not in err
