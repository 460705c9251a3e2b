"""Form groups from recording metadata (``--group-by drug|genotype|protocol|KEY[,KEY...]``) and the
per-slice table that every statistic is computed from.
"""

from __future__ import annotations

import pandas as pd

from rig.analysis.report.collect import Excluded, Experiment

CONTROL_DRUGS = ("", "none", "vehicle", "control", "aCSF", "acsf", "DMSO")


def _drug_label(meta: dict) -> str:
    drug = str(meta.get("drug") or "")
    conc = meta.get("concentration_uM")
    if not drug:
        return "no drug"
    if conc is None or drug.lower() in ("vehicle", "control", "none"):
        return drug
    return f"{drug} {conc:g} µM"


def group_value(exp: Experiment, key: str) -> str | None:
    """The label of one grouping key for one experiment (None when the metadata lacks it)."""
    if key == "drug":
        return _drug_label(exp.metadata)
    if key == "protocol":
        return exp.protocol or None
    v = exp.metadata.get(key)
    if v is None or v == "":
        return None
    return f"{v:g}" if isinstance(v, float) else str(v)


def _sort_key(exp: Experiment, keys: list[str]) -> tuple:
    out: list = []
    for key in keys:
        m = exp.metadata
        if key == "drug":
            drug = str(m.get("drug") or "")
            out += [drug not in CONTROL_DRUGS, drug.lower(), float(m.get("concentration_uM") or 0.0)]
        elif key == "genotype":
            g = str(m.get("genotype") or "")
            out += [g != "WT", g]
        else:
            v = group_value(exp, key) or ""
            try:
                out += [0, float(v), ""]
            except ValueError:
                out += [1, 0.0, v]
    return tuple(out)


def parse_keys(group_by: str) -> list[str]:
    keys = [k.strip() for k in group_by.split(",") if k.strip()]
    if not keys:
        raise ValueError("--group-by: give at least one key")
    return keys


def make_groups(exps: list[Experiment], group_by: str) -> tuple[dict[str, list[Experiment]], list[Excluded]]:
    """Groups in a stable, meaningful order (WT first; controls first, then ascending concentration)."""
    keys = parse_keys(group_by)
    excluded: list[Excluded] = []
    labelled: list[tuple[tuple, str, Experiment]] = []
    for e in exps:
        vals = [group_value(e, k) for k in keys]
        missing = [k for k, v in zip(keys, vals, strict=True) if v is None]
        if missing:
            excluded.append(Excluded(e.path, f"metadata lacks {', '.join(missing)} (needed by --group-by)"))
            continue
        labelled.append((_sort_key(e, keys), " · ".join(vals), e))  # type: ignore[arg-type]
    labelled.sort(key=lambda x: (x[0], x[1], str(x[2].path)))
    groups: dict[str, list[Experiment]] = {}
    for _, label, e in labelled:
        groups.setdefault(label, []).append(e)
    return groups, excluded


def slice_table(groups: dict[str, list[Experiment]]) -> pd.DataFrame:
    """One row per slice: the numbers every statistic uses (exported as ``slices.csv``)."""
    rows = []
    for label, exps in groups.items():
        for e in exps:
            m = e.metadata
            rows.append({
                "group": label, "file": str(e.path), "animal_id": e.animal, "slice_id": str(m.get("slice_id") or ""),
                "genotype": m.get("genotype", ""), "drug": m.get("drug", ""),
                "concentration_uM": m.get("concentration_uM"), "protocol": e.protocol,
                "magnitude_pct": e.magnitude_pct, "baseline_slope_mV_per_ms": e.baseline_slope,
                "ppr": e.ppr, "complete": e.complete, "analysis_version": e.analysis_version,
            })
    cols = ["group", "file", "animal_id", "slice_id", "genotype", "drug", "concentration_uM", "protocol",
            "magnitude_pct", "baseline_slope_mV_per_ms", "ppr", "complete", "analysis_version"]
    return pd.DataFrame(rows, columns=cols)
