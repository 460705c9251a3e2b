"""Journal-style figures (matplotlib, Agg): labelled axes with units, Okabe–Ito colours, no chart junk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rig.analysis.report.collect import Experiment  # noqa: E402

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


@dataclass(frozen=True)
class GroupStyle:
    colour: str
    marker: str
    filled: bool


def group_styles(names: list[str]) -> dict[str, GroupStyle]:
    """One style per group, the same in every panel. Crossed groups ("WT · vehicle"): colour by the
    later key(s) (the treatment), marker and fill by the first key (e.g. genotype: filled circles for the
    first, open squares for the second)."""
    parts = [n.split(" · ", 1) for n in names]
    if len(names) > 1 and all(len(p) == 2 for p in parts):
        clusters = list(dict.fromkeys(p[0] for p in parts))
        treatments = list(dict.fromkeys(p[1] for p in parts))
        return {n: GroupStyle(colour(treatments.index(p[1])), MARKERS[clusters.index(p[0]) % len(MARKERS)],
                              clusters.index(p[0]) == 0) for n, p in zip(names, parts, strict=True)}
    return {n: GroupStyle(colour(i), MARKERS[i % len(MARKERS)], True) for i, n in enumerate(names)}


def _legend_label(name: str, exps: list[Experiment]) -> str:
    animals = {e.animal for e in exps if e.animal}
    n = f"n = {len(exps)} slice{'s' if len(exps) != 1 else ''}"
    if not animals:
        return f"{name} ({n})"
    return f"{name} ({n} / N = {len(animals)} animal{'s' if len(animals) != 1 else ''})"


def _shade_phases(ax: Axes, exp: Experiment, offset_s: float, *, label: bool = True, drugs: bool = True) -> int:
    """Shade non-test phases (induction, chemical) of one experiment and draw bath drugs as bars along
    the top, times in min from ``offset_s``; returns the number of drug bars."""
    y_bar = 0.97
    bars = 0
    for k, p in enumerate(exp.phases):
        if p.kind in ("baseline", "follow_up", "washout"):
            continue
        if not drugs and p.kind not in SHADE_KINDS:  # group panels: only the induction
            continue
        if p.kind == "drug":  # a bath drug stays on until a washout phase: a bar along the top
            off = next((q.start_s for q in exp.phases[k + 1:] if q.kind == "washout"), exp.duration_s)
            x0, x1 = (p.start_s - offset_s) / 60.0, (off - offset_s) / 60.0
            ax.plot([x0, x1], [y_bar, y_bar], transform=ax.get_xaxis_transform(), color="#555555", lw=2.0,
                    solid_capstyle="butt", zorder=2)
            if label:
                drug, conc = str(exp.metadata.get("drug") or ""), exp.metadata.get("concentration_uM")
                text = f"{drug} {conc:g} µM" if drug and conc and drug in p.name else p.name
                ax.text(x0, y_bar - 0.015, text, transform=ax.get_xaxis_transform(),
                        ha="left", va="top", fontsize=6, color="#555555")
            y_bar -= 0.07
            bars += 1
            continue
        x0, x1 = (p.start_s - offset_s) / 60.0, (p.end_s - offset_s) / 60.0
        ax.axvspan(x0, max(x1, x0 + 0.15), color=SHADE_KINDS.get(p.kind, "#E8E8E8"), lw=0, zorder=0)
        if label:
            ax.text((x0 + x1) / 2, 1.0, p.name, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                    fontsize=6, color="#555555")
    return bars


def plot_group_timecourse(ax: Axes, groups: dict[str, list[Experiment]], tc: pd.DataFrame,
                          styles: dict[str, GroupStyle] | None = None) -> None:
    """Mean ± SEM per bin for each group (``tc`` from timecourse.all_group_timecourses)."""
    styles = styles or group_styles(list(groups))
    all_exps = [e for exps in groups.values() for e in exps]
    shown = next((e for e in all_exps if any(p.kind in SHADE_KINDS for p in e.phases)), None)
    if shown is not None:  # the induction of the (common) protocol; drug bars differ between groups
        _shade_phases(ax, shown, shown.align_s, drugs=False)
    ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
    for name, exps in groups.items():
        d = tc[tc["group"] == name]
        st = styles[name]
        ax.errorbar(d["t_min"], d["mean"], yerr=d["sem"].fillna(0.0), color=st.colour, marker=st.marker,
                    mfc=st.colour if st.filled else "white", ms=2.8, mew=0.7, lw=0.8, elinewidth=0.6, capsize=0,
                    label=_legend_label(name, exps), zorder=3)
    ax.set_xlabel("Time from induction (min)")
    ax.set_ylabel("fEPSP slope (% of baseline)")
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=1, handlelength=1.5)


_DOSE = re.compile(r"^(?P<drug>.+) (?P<conc>[0-9.eE+-]+) µM$")


def short_labels(labels: list[str]) -> tuple[list[str], str]:
    """Tick labels: when ≥ 2 labels are doses of one drug ("basimglurant 0.1 µM"), show the
    concentration only and name the drug in the axis label ("basimglurant (µM)")."""
    doses = [_DOSE.match(lab) for lab in labels]
    drugs = {m["drug"] for m in doses if m}
    if len(drugs) != 1 or sum(1 for m in doses if m) < 2:
        return labels, ""
    drug = drugs.pop()
    return [m["conc"] if m else lab for m, lab in zip(doses, labels, strict=True)], f"{drug} (µM)"


def plot_magnitudes(ax: Axes, groups: dict[str, list[Experiment]],
                    styles: dict[str, GroupStyle] | None = None) -> None:
    """Per-slice magnitudes as points, group mean ± SEM beside them. Crossed groups ("WT · vehicle")
    are clustered by their first key, which labels each cluster below the axis."""
    styles = styles or group_styles(list(groups))
    rng = np.random.default_rng(0)  # deterministic jitter
    names = list(groups)
    parts = [n.split(" · ", 1) for n in names]
    crossed = len(names) > 1 and all(len(p) == 2 for p in parts)
    clusters = list(dict.fromkeys(p[0] for p in parts)) if crossed else []
    xs = [i + 0.6 * clusters.index(p[0]) if crossed else float(i) for i, p in enumerate(parts)]
    for x0, name in zip(xs, names, strict=True):
        st = styles[name]
        y = np.array([e.magnitude_pct for e in groups[name]])
        x = x0 + rng.uniform(-0.15, 0.15, len(y))
        ax.scatter(x, y, s=9, marker=st.marker, facecolor="none", edgecolor=st.colour, linewidth=0.7, zorder=3)
        m = float(np.mean(y))
        sem = float(np.std(y, ddof=1) / np.sqrt(len(y))) if len(y) > 1 else 0.0
        ax.errorbar([x0 + 0.3], [m], yerr=[sem], color=st.colour, marker="_", ms=9, mew=1.5, elinewidth=1.0,
                    capsize=2.0, zorder=4)
    ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
    labels, xlabel = short_labels([p[1] if crossed else n for p, n in zip(parts, names, strict=True)])
    many = len(names) > 6 or (len(names) > 3 and max(len(lab) for lab in labels) > 8)
    ax.set_xticks([x + 0.1 for x in xs], labels, rotation=40 if many else 0, ha="right" if many else "center",
                  rotation_mode="anchor" if many else "default")
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.6)
    for c in clusters:
        cx = [x for x, p in zip(xs, parts, strict=True) if p[0] == c]
        ax.annotate(c, xy=((min(cx) + max(cx)) / 2 + 0.1, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontweight="bold", fontsize=7)
    ax.set_ylabel("fEPSP slope, last 10 min (% of baseline)")
    if xlabel:
        ax.set_xlabel(xlabel)


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
        bars = _shade_phases(ax, exp, exp.align_s)
        ax.axhline(100.0, color="#777777", lw=0.6, ls="--", zorder=1)
        for k, pw in enumerate(sorted(exp.norm_pct)):
            t = (exp.time_s[pw] - exp.align_s) / 60.0
            lab = f"S{pw + 1}" + (" (induced)" if pw == exp.pathway and len(exp.norm_pct) > 1 else "")
            ax.plot(t, exp.norm_pct[pw], ls="none", marker=MARKERS[k], ms=2, color=colour(k), label=lab)
        ax.set_xlabel("Time from induction (min)")
        ax.set_ylabel("fEPSP slope (% of baseline)")
        if bars:  # headroom for the drug bars
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi + (hi - lo) * 0.1 * bars)
        txt = f"last 10 min: {exp.magnitude_pct:.0f} %"
        if exp.ppr is not None:
            txt += f"\nPPR (baseline): {exp.ppr:.2f}"
        ax.text(0.98, 0.04, txt, transform=ax.transAxes, ha="right", va="bottom", fontsize=7)
        if len(exp.norm_pct) > 1:
            ax.legend(loc="upper left")
        ax.set_title(exp.name, loc="left", pad=9)
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


def save(fig: Figure, path: Path, dpi: float | None = None) -> Path:
    """Write and close the figure (raster formats at ``dpi``, default 300)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi or STYLE["savefig.dpi"])
    plt.close(fig)
    return path
