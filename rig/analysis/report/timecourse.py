"""Normalized time courses binned per N minutes and aligned to the induction onset (t = 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rig.analysis.report.collect import Experiment


def slice_bins(exp: Experiment, bin_min: float = 1.0, pathway: int | None = None) -> pd.DataFrame:
    """One slice: mean normalized slope (% of baseline) per bin.

    Columns: ``bin`` (integer; bin k covers [k, k+1)·bin_min minutes after the induction onset),
    ``t_min`` (bin centre, min), ``pct`` (mean % of baseline), ``n_sweeps``.
    """
    if bin_min <= 0:
        raise ValueError("bin_min must be > 0")
    pw = exp.pathway if pathway is None else pathway
    t_min = (exp.time_s[pw] - exp.align_s) / 60.0
    k = np.floor(t_min / bin_min).astype(int)
    df = pd.DataFrame({"bin": k, "pct": exp.norm_pct[pw]})
    out = df.groupby("bin", sort=True)["pct"].agg(["mean", "size"]).reset_index()
    out.columns = ["bin", "pct", "n_sweeps"]
    out.insert(1, "t_min", (out["bin"] + 0.5) * bin_min)
    return out


def group_timecourse(exps: list[Experiment], bin_min: float = 1.0) -> pd.DataFrame:
    """Mean ± SEM across slices per bin (each slice weighs once). Columns: bin, t_min, mean, sem, n."""
    per = [slice_bins(e, bin_min).assign(slice=i) for i, e in enumerate(exps)]
    if not per:
        return pd.DataFrame(columns=["bin", "t_min", "mean", "sem", "n"])
    df = pd.concat(per, ignore_index=True)
    g = df.groupby("bin", sort=True)
    out = pd.DataFrame({
        "t_min": g["t_min"].first(),
        "mean": g["pct"].mean(),
        "sem": g["pct"].std(ddof=1) / np.sqrt(g["pct"].count()),
        "n": g["pct"].count(),
    }).reset_index()
    return out


def all_group_timecourses(groups: dict[str, list[Experiment]], bin_min: float = 1.0) -> pd.DataFrame:
    """Long table of every group's binned time course (column ``group`` added), for CSV export."""
    frames = [group_timecourse(exps, bin_min).assign(group=name) for name, exps in groups.items()]
    if not frames:
        return pd.DataFrame(columns=["group", "bin", "t_min", "mean", "sem", "n"])
    df = pd.concat(frames, ignore_index=True)
    return df[["group", "bin", "t_min", "mean", "sem", "n"]]
