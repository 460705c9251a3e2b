"""The report on groups simulated with the realistic virtual slice (DHPG-LTD): basimglurant blocks
the LTD (vehicle vs NAM) and Fmr1-KO slices depress more than WT — the seed's expected directions,
read from the report's own numbers."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("drivers.sim.slice", reason="the realistic virtual slice is not in this build")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    sys.path.insert(0, str(EXAMPLES))
    try:
        study = importlib.import_module("basimglurant_study")
    finally:
        sys.path.remove(str(EXAMPLES))
    from rig.analysis.report import make_report

    out = tmp_path_factory.mktemp("slice_study")
    timing = study.Timing(wash_in_min=5.0, baseline_min=3.0, follow_up_min=10.5, interval_s=20.0)
    C = study.Condition
    conds = ([C("dhpg", "WT", "vehicle", None, k, f"w{k // 2}", 500 + k) for k in range(4)]
             + [C("dhpg", "Fmr1-KO", "vehicle", None, k, f"k{k // 2}", 600 + k) for k in range(4)]
             + [C("dhpg", "WT", "basimglurant", 0.1, k, f"w{k // 2}", 700 + k) for k in range(3)])
    files = study.simulate_all(conds, out, timing, jobs=2, rig=study.study_rig(out, realistic=True))
    return make_report(files, out / "report", group_by="genotype,drug", per_experiment=False)


def test_groups_and_no_exclusions(report) -> None:
    assert list(report.groups["group"]) == ["WT · vehicle", "WT · basimglurant 0.1 µM", "Fmr1-KO · vehicle"]
    assert report.excluded == []


def test_basimglurant_blocks_dhpg_ltd(report) -> None:
    g = report.groups.set_index("group")["mean_pct"]
    assert g["WT · vehicle"] < 90.0  # DHPG-LTD
    assert g["WT · basimglurant 0.1 µM"] > 90.0  # blocked by the mGluR5 NAM
    tukey = report.stats[(report.stats["test"] == "Tukey HSD")
                         & (report.stats["comparison"] == "WT · basimglurant 0.1 µM vs WT · vehicle")].iloc[0]
    assert tukey["estimate"] > 0 and tukey["ci_low"] > 0


def test_fmr1_ko_depresses_more_than_wt(report) -> None:
    slices = pd.read_csv(report.files["slices"])
    by = slices.groupby("group")["magnitude_pct"].mean()
    assert by["Fmr1-KO · vehicle"] < by["WT · vehicle"]
    tc = pd.read_csv(report.files["timecourse"])
    late = tc[tc["t_min"] > 8].groupby("group")["mean"].mean()
    assert late["Fmr1-KO · vehicle"] < late["WT · vehicle"] < late["WT · basimglurant 0.1 µM"]
