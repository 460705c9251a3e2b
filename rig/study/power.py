"""Statistical power of a planned comparison from simulated slices.

For repetition r and n slices per group, the study is slices 0..n-1 of every group of repetition r;
the test is the one ``rig report`` applies (:func:`rig.analysis.report.stats.compare_groups`) on
their magnitudes (% of baseline, :mod:`rig.analysis.results`), and the repetition is significant
when that test's p < α. Power at n = fraction of significant repetitions, with its 95 %
Clopper–Pearson interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rig.core.errors import UserError
from rig.study.design import Design
from rig.study.simulate import SliceResult

#: ``--test`` name → the row of rig report's statistics table it reads (2 groups / more groups).
TESTS = {
    "welch": "Welch t-test",
    "mann-whitney": "Mann–Whitney U",
    "anova": "one-way ANOVA",
    "kruskal": "Kruskal–Wallis",
}


def default_test(n_groups: int) -> str:
    return "welch" if n_groups == 2 else "anova"


def check_test(test: str, n_groups: int) -> None:
    if test not in TESTS:
        raise UserError(f"--test {test!r}: one of {', '.join(TESTS)}")
    if n_groups == 2 and test in ("anova", "kruskal"):
        raise UserError(f"--test {test}: two groups are compared by welch or mann-whitney (as rig report does)")
    if n_groups > 2 and test in ("welch", "mann-whitney"):
        raise UserError(f"--test {test}: {n_groups} groups are compared by anova or kruskal (as rig report does)")


@dataclass(frozen=True)
class PowerPoint:
    n: int
    power: float
    ci_low: float
    ci_high: float
    significant: int
    repeats: int
    mean_difference_pct: float  # last group − first group, mean over repetitions


def p_value(values: list[np.ndarray], labels: list[str], test: str) -> float:
    """p of ``test`` on per-slice magnitudes, from the same table rig report builds."""
    import pandas as pd

    from rig.analysis.report.stats import compare_groups

    table = pd.DataFrame({"group": np.repeat(labels, [len(v) for v in values]),
                          "animal_id": "", "magnitude_pct": np.concatenate(values)})
    res = compare_groups(table)
    row = res[res["test"] == TESTS[test]]
    return float(row["p"].iloc[0]) if len(row) else float("nan")


def magnitudes(design: Design, results: list[SliceResult]) -> np.ndarray:
    """Array [repeat, group, slice] of magnitudes (% of baseline)."""
    out = np.full((design.repeats, len(design.groups), design.n_max), np.nan)
    for r in results:
        out[r.rep, r.group_index, r.slice_index] = r.magnitude_pct
    return out


def power_curve(design: Design, results: list[SliceResult], test: str) -> list[PowerPoint]:
    from scipy.stats import binomtest

    mags = magnitudes(design, results)
    labels = [g.label for g in design.groups]
    points = []
    for n in design.n_values:
        sig, diffs, done = 0, [], 0
        for r in range(design.repeats):
            vals = [mags[r, g, :n] for g in range(len(labels))]
            if any(not np.all(np.isfinite(v)) for v in vals):
                continue  # a slice without a magnitude (e.g. no baseline): this repetition cannot be tested
            p = p_value(vals, labels, test)
            done += 1
            sig += int(np.isfinite(p) and p < design.alpha)
            diffs.append(float(np.mean(vals[-1]) - np.mean(vals[0])))
        if done:
            ci = binomtest(sig, done).proportion_ci(0.95, method="exact")
            points.append(PowerPoint(n, sig / done, float(ci.low), float(ci.high), sig, done, float(np.mean(diffs))))
        else:
            points.append(PowerPoint(n, float("nan"), float("nan"), float("nan"), 0, 0, float("nan")))
    return points


def write_outputs(design: Design, results: list[SliceResult], points: list[PowerPoint], out: Path) -> dict:
    """``power.csv`` (the curve), ``slices.csv`` (every simulated slice), ``power.png`` (the plot)."""
    import csv

    out.mkdir(parents=True, exist_ok=True)
    files = {"power_csv": out / "power.csv", "slices_csv": out / "slices.csv", "plot": out / "power.png"}
    with open(files["power_csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["n_per_group", "power", "ci_low", "ci_high", "significant", "repeats", "alpha", "test",
                    "mean_difference_pct"])
        for p in points:
            w.writerow([p.n, p.power, p.ci_low, p.ci_high, p.significant, p.repeats, design.alpha, TESTS[design.test],
                        p.mean_difference_pct])
    with open(files["slices_csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["repeat", "group", "slice", "seed", "magnitude_pct", "baseline_slope_mV_per_ms"])
        for r in sorted(results, key=lambda x: (x.rep, x.group_index, x.slice_index)):
            w.writerow([r.rep, design.groups[r.group_index].label, r.slice_index, r.seed, r.magnitude_pct,
                        r.baseline_slope_mV_per_ms])
    plot(design, points, files["plot"])
    return {k: str(v) for k, v in files.items()}


def plot(design: Design, points: list[PowerPoint], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [p.n for p in points]
    fig, ax = plt.subplots(figsize=(4.5, 3.2), layout="constrained")
    ax.fill_between(ns, [p.ci_low for p in points], [p.ci_high for p in points], color="0.85", label="95 % CI")
    ax.plot(ns, [p.power for p in points], "o-", color="k", label="power")
    ax.axhline(0.8, color="tab:red", lw=0.8, ls="--", label="0.8")
    ax.set(xlabel="slices per group", ylabel=f"power ({TESTS[design.test]}, α = {design.alpha:g})", ylim=(0, 1.02))
    ax.set_title(" vs ".join(g.label for g in design.groups), fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.savefig(path, dpi=120)
    plt.close(fig)
