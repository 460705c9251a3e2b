"""Build a report directory from recordings: figures, CSV tables and report.html."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rig.analysis.mea_results import DEFAULT_SETTINGS, MapSettings
from rig.analysis.report import figures, ltp_map
from rig.analysis.report.collect import Excluded, Experiment, collect
from rig.analysis.report.groups import make_groups, slice_table
from rig.analysis.report.html import write_html
from rig.analysis.report.stats import compare_groups
from rig.analysis.report.timecourse import all_group_timecourses

FORMATS = ("png", "pdf", "svg")


@dataclass
class Report:
    out: Path
    groups: pd.DataFrame  # group, n_slices, n_animals, mean, sem (magnitude, % of baseline)
    slices: pd.DataFrame
    stats: pd.DataFrame
    timecourse: pd.DataFrame
    excluded: list[Excluded]
    files: dict[str, Path] = field(default_factory=dict)
    experiments: dict[str, list[Experiment]] = field(default_factory=dict)  # group -> its experiments
    mea: list[dict] = field(default_factory=list)  # MEA recordings: LTP map figure and fraction (report.ltp_map)

    def to_json(self) -> dict:
        return {
            "out": str(self.out),
            "groups": self.groups.to_dict(orient="records"),
            "stats": _records(self.stats),
            "excluded": [{"file": str(e.path), "reason": e.reason} for e in self.excluded],
            "analysis_versions": {str(e.path): e.analysis_version for g in self.experiments.values() for e in g},
            "files": {k: str(v) for k, v in self.files.items()},
            "mea": self.mea,
        }


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def excluded_table(excluded: list[Excluded]) -> pd.DataFrame:
    return pd.DataFrame([{"file": str(e.path), "reason": e.reason} for e in excluded], columns=["file", "reason"])


def group_summary(slices: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for g in dict.fromkeys(slices["group"]):
        d = slices[slices["group"] == g]
        y = d["magnitude_pct"].to_numpy(float)
        animals = d["animal_id"].astype(str)
        rows.append({"group": g, "n_slices": len(y), "n_animals": int(animals[animals != ""].nunique()),
                     "mean_pct": float(np.mean(y)),
                     "sem_pct": float(np.std(y, ddof=1) / np.sqrt(len(y))) if len(y) > 1 else float("nan")})
    return pd.DataFrame(rows, columns=["group", "n_slices", "n_animals", "mean_pct", "sem_pct"])


def make_report(paths: list[Path], out: Path, *, group_by: str = "drug", fmt: str = "png", bin_min: float = 1.0,
                per_experiment: bool = True, title: str = "", analysis: int | None = None,
                mea_settings: MapSettings = DEFAULT_SETTINGS) -> Report:
    """Load, group, compute and write everything into ``out``; returns what was written. Each
    recording's newest analysis version is used, or version ``analysis`` (files without it are excluded)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    same_protocol = "protocol" not in [k.strip() for k in group_by.split(",")]
    exps, excluded = collect(paths, same_protocol=same_protocol, traces=per_experiment, analysis=analysis,
                             mea_settings=mea_settings)
    groups, excl_g = make_groups(exps, group_by)
    excluded += excl_g
    out.mkdir(parents=True, exist_ok=True)
    slices = slice_table(groups)
    stats = compare_groups(slices)
    tc = all_group_timecourses(groups, bin_min)
    summary = group_summary(slices) if len(slices) else pd.DataFrame(
        columns=["group", "n_slices", "n_animals", "mean_pct", "sem_pct"])
    rep = Report(out, summary, slices, stats, tc, excluded, experiments=groups)
    for name, df in (("slices", slices), ("stats", stats), ("timecourse", tc), ("groups", summary),
                     ("excluded", excluded_table(excluded))):
        p = out / f"{name}.csv"
        df.to_csv(p, index=False)
        rep.files[name] = p
    main = None
    previews: dict[Path, Path] = {}
    if groups:
        protocol = "; ".join(dict.fromkeys(e.signature for g in groups.values() for e in g))
        fig = figures.main_figure(groups, tc, title=title)
        main = figures.save(fig, out / f"figure_main.{fmt}")
        rep.files["figure_main"] = main
        if fmt == "pdf":  # the HTML page shows a PNG preview
            previews[main] = figures.save(figures.main_figure(groups, tc, title=title), out / "figure_main.png")
    else:
        protocol = "-"
    exp_figs = []
    if per_experiment:
        for exps in groups.values():
            for e in exps:
                f = figures.save(figures.experiment_figure(e), out / "experiments" / f"{e.name}.{fmt}")
                if fmt == "pdf":
                    previews[f] = figures.save(figures.experiment_figure(e), f.with_suffix(".png"))
                exp_figs.append(f)
    included = [e for g in groups.values() for e in g]
    rep.mea = ltp_map.write_maps(included, out, fmt)
    if rep.mea:
        rep.files["mea"] = out / "mea.csv"
        ltp_map.mea_table(included).to_csv(rep.files["mea"], index=False)
    n_animals = len({e.animal for g in groups.values() for e in g if e.animal})
    intro = (f"{len(slices)} slices"
             + (f" from {n_animals} animals" if n_animals else "")
             + f" in {len(groups)} groups (grouped by {group_by}); induction: {protocol}; "
             f"{len(excluded)} excluded. Magnitude = mean normalized fEPSP slope over the last 10 min; "
             f"time course binned per {bin_min:g} min, aligned to the induction onset (mean ± SEM across slices).")
    rep.files["html"] = write_html(
        out / "report.html", title=title or "LTP Rig report", intro=intro,
        main_fig=previews.get(main, main) if main else None,
        groups=summary, stats=stats,
        excluded=excluded_table(excluded),
        experiment_figs=[previews.get(f, f) for f in exp_figs],
        mea_maps=[(f"{Path(m['file']).stem}: {m['caption']}", Path(m["preview"])) for m in rep.mea])
    return rep
