"""Journal-style figures (matplotlib, Agg): labelled axes with units, Okabe–Ito colours, no chart junk."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rig.report.collect import Experiment  # noqa: E402

# Okabe & Ito (2008), colour-blind safe; black first for the control group.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<"]
SINGLE_COL_IN = 3.5
DOUBLE_COL_IN = 7.2
STYLE = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
    "axes.linewidth": 0.8, "xtick.major.width": 0.8, "ytick.major.width": 0.8, "lines.linewidth": 1.0,
    "savefig.dpi": 300, "savefig.bbox": "tight", "pdf.fonttype": 42, "svg.fonttype": "none",
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
}
ARTIFACT_BLANK_MS = 1.0  # representative traces: samples from -0.1 to 1 ms after the stimulus are blanked
SHADE_KINDS = {"induction": "#BBBBBB", "chemical": "#CCCCCC"}


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def _legend_label(name: str, exps: list[Experiment]) -> str:
    animals = {e.animal for e in exps if e.animal}
    n = f"n = {len(exps)} slices"
    return f"{name} ({n} / N = {len(animals)} animals)" if animals else f"{name} ({n})"


def _shade_phases(ax: Axes, exp: Experiment, offset_s: float, *, label: bool = True) -> None:
    """Shade non-test phases (induction, chemical, drug) of one experiment, times in min from offset."""
    for p in exp.phases:
        if p.kind in ("baseline", "follow_up"):
            continue
        x0, x1 = (p.start_s - offset_s) / 60.0, (p.end_s - offset_s) / 60.0
        ax.axvspan(x0, max(x1, x0 + 0.15), color=SHADE_KINDS.get(p.kind, "#E8E8E8"), lw=0, zorder=0)
        if label:
            ax.text((x0 + x1) / 2, 1.0, p.name, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=6, color="#555555")


def plot_group_timecourse(ax: Axes, groups: dict[str, list[Experiment]], tc: pd.DataFrame) -> None:
    """Mean ± SEM per bin for each group (``tc`` from timecourse.all_group_timecourses)."""
    all_exps = [e for exps in groups.values() for e in exps]
    shown = next((e for e in all_exps if any(p.kind not in ("baseline", "follow_up") for p in e.phases)), None)
    if shown is not None:
        _shade_phases(ax, shown, shown.align_s)
    ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
    for i, (name, exps) in enumerate(groups.items()):
        d = tc[tc["group"] == name]
        ax.errorbar(d["t_min"], d["mean"], yerr=d["sem"].fillna(0.0), color=colour(i), marker=MARKERS[i % 8],
                    ms=2.5, lw=0.8, elinewidth=0.6, capsize=0, label=_legend_label(name, exps), zorder=3)
    ax.set_xlabel("Time from induction (min)")
    ax.set_ylabel("fEPSP slope (% of baseline)")
    ax.legend(loc="best", handlelength=1.2)


def plot_magnitudes(ax: Axes, groups: dict[str, list[Experiment]]) -> None:
    """Per-slice magnitudes as points, group mean ± SEM as a bar with whiskers."""
    rng = np.random.default_rng(0)  # deterministic jitter
    names = list(groups)
    for i, name in enumerate(names):
        y = np.array([e.magnitude_pct for e in groups[name]])
        x = i + rng.uniform(-0.15, 0.15, len(y))
        ax.scatter(x, y, s=9, facecolor="none", edgecolor=colour(i), linewidth=0.7, zorder=3)
        m = float(np.mean(y))
        sem = float(np.std(y, ddof=1) / np.sqrt(len(y))) if len(y) > 1 else 0.0
        ax.errorbar([i + 0.3], [m], yerr=[sem], color=colour(i), marker="_", ms=10, mew=1.5, elinewidth=1.0,
                    capsize=2.5, zorder=4)
    ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
    ax.set_xticks(range(len(names)), [n.replace(" · ", "\n") for n in names],
                  rotation=30 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center")
    ax.set_xlim(-0.6, len(names) - 0.3)
    ax.set_ylabel("fEPSP slope, last 10 min (% of baseline)")


def main_figure(groups: dict[str, list[Experiment]], tc: pd.DataFrame, title: str = "") -> Figure:
    """Panel a: group time courses; panel b: per-slice magnitudes."""
    with plt.rc_context(STYLE):
        fig, (a, b) = plt.subplots(1, 2, figsize=(DOUBLE_COL_IN, 2.8), width_ratios=[1.7, 1.0],
                                   layout="constrained")
        plot_group_timecourse(a, groups, tc)
        plot_magnitudes(b, groups)
        for ax, letter in ((a, "a"), (b, "b")):
            ax.text(-0.12, 1.04, letter, transform=ax.transAxes, fontweight="bold", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=8)
    return fig


def experiment_figure(exp: Experiment) -> Figure:
    """One slice: normalized time course with phases shaded, representative traces, I/O and PPR."""
    extra = [c for c in (exp.io_curve, exp.ppr_curve) if c is not None]
    with plt.rc_context(STYLE):
        ncol = 2 + len(extra)
        fig, axes = plt.subplots(1, ncol, figsize=(DOUBLE_COL_IN if ncol == 2 else 9.0, 2.2), layout="constrained",
                                 width_ratios=[2.0, 1.0] + [1.0] * len(extra))
        ax = axes[0]
        _shade_phases(ax, exp, exp.align_s)
        ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
        for k, pw in enumerate(sorted(exp.norm_pct)):
            t = (exp.time_s[pw] - exp.align_s) / 60.0
            lab = f"S{pw + 1}" + (" (induced)" if pw == exp.pathway and len(exp.norm_pct) > 1 else "")
            ax.plot(t, exp.norm_pct[pw], ls="none", marker=MARKERS[k], ms=2, color=colour(k), label=lab)
        ax.set_xlabel("Time from induction (min)")
        ax.set_ylabel("fEPSP slope (% of baseline)")
        txt = f"last 10 min: {exp.magnitude_pct:.0f} %"
        if exp.ppr is not None:
            txt += f"\nPPR (baseline): {exp.ppr:.2f}"
        ax.text(0.98, 0.04, txt, transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
        if len(exp.norm_pct) > 1:
            ax.legend(loc="upper left")
        ax.set_title(exp.name, loc="left")
        tr = axes[1]
        for name, c in (("baseline", "#000000"), ("follow-up", OKABE_ITO[6])):
            if name in exp.traces:
                t_ms, mv = exp.traces[name]
                keep = (t_ms >= -2) & (t_ms <= 40)
                y = np.where((t_ms > -0.1) & (t_ms < ARTIFACT_BLANK_MS), np.nan, mv)  # stimulus artifact blanked
                tr.plot(t_ms[keep], y[keep], color=c, lw=0.9, label=name)
        tr.set_xlabel("Time from stimulus (ms)")
        tr.set_ylabel("Field potential (mV)")
        if exp.traces:
            lo = min(float(np.min(m[(t > 2) & (t < 40)])) for t, m in exp.traces.values())
            tr.set_ylim(lo * 1.3, -lo * 0.6)
            tr.legend(loc="lower right", title="mean of last 5 min")
        k = 2
        if exp.io_curve is not None:
            ua, slope = exp.io_curve
            axes[k].plot(ua, slope, marker="o", ms=2.5, color="#000000")
            axes[k].set_xlabel("Stimulus intensity (µA)")
            axes[k].set_ylabel("fEPSP slope (mV/ms)")
            axes[k].set_title("I/O curve", loc="left")
            k += 1
        if exp.ppr_curve is not None:
            isi, ppr = exp.ppr_curve
            axes[k].plot(isi, ppr, marker="o", ms=2.5, color="#000000")
            axes[k].axhline(1.0, color="#777777", lw=0.6, ls="--")
            axes[k].set_xscale("log")
            axes[k].set_xlabel("Inter-pulse interval (ms)")
            axes[k].set_ylabel("Paired-pulse ratio (slope 2 / slope 1)")
            axes[k].set_title("Paired pulses", loc="left")
    return fig


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
