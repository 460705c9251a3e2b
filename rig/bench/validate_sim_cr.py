"""Basimglurant concentration–response of DHPG-LTD through the pipeline (``rig validate-sim --cr``).

Each concentration is pre-incubated for :data:`~rig.bench.validate_sim.BASIM_PRE_MIN` (as the seed's
method: the slice sits in the drug before the recording), then DHPG 100 µM for 5 min; % of baseline
at 60 min, WT and Fmr1-KO, on the same slices per genotype.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rig.bench.validate_sim import BASIM_PRE_MIN, Condition, run_groups

CR_NM = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # basimglurant, nM (K_d 1.1 nM)


def concentration_response(concs_nM: list[float], n: int, base_seed: int = 0, processes: int = 2
                           ) -> list[dict]:
    """DHPG-LTD (100 µM, 5 min; % at 60 min) vs pre-incubated basimglurant, WT and Fmr1-KO."""
    conds = []
    for g in ("WT", "Fmr1-KO"):
        for cn in concs_nM:
            conds.append(Condition(f"CR {g} basimglurant {cn:g} nM", "", -math.inf, math.inf,
                                   "dhpg", g, bath={"basimglurant": cn * 1e-3} if cn else {},
                                   pre_incubation_min=BASIM_PRE_MIN if cn else 0.0, group=f"cr {g}"))
    res = run_groups(conds, n, base_seed, processes)
    out = []
    for c in conds:
        v = np.array([r[0] for r in res[c.name]], dtype=float)
        out.append({"genotype": c.genotype, "basimglurant_nM": c.bath.get("basimglurant", 0) * 1e3,
                    "measured_mean": float(v.mean()),
                    "measured_sem": float(v.std(ddof=1) / math.sqrt(v.size)), "n": int(v.size)})
    return out


def plot_concentration_response(rows: list[dict], path: str | Path, title: str | None = None) -> None:
    """Figure: % of baseline at 60 min vs basimglurant (log axis; 0 nM drawn at the left). The default
    title says what is plotted and how it was made (the pipeline, slices per point)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if title is None:
        n = sorted({r["n"] for r in rows})
        title = (f"DHPG 100 µM 5 min: fEPSP slope at 60 min, basimglurant pre-incubated {BASIM_PRE_MIN:g} min\n"
                 f"simulated slices through the pipeline (rig validate-sim --cr), "
                 f"n = {'/'.join(map(str, n))} per point, mean ± SEM")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    pos = sorted({r["basimglurant_nM"] for r in rows if r["basimglurant_nM"] > 0})
    zero_x = pos[0] / 10 if pos else 0.01
    for g, col in (("WT", "k"), ("Fmr1-KO", "tab:red")):
        rr = [r for r in rows if r["genotype"] == g]
        x = [r["basimglurant_nM"] or zero_x for r in rr]
        ax.errorbar(x, [r["measured_mean"] for r in rr], [r["measured_sem"] for r in rr],
                    marker="o", color=col, capsize=3, label=g)
    ax.axhspan(80, 96, color="0.85", zorder=0, label="WT target (Huber 2002, ±2 SEM)")
    ax.axhline(100, color="0.5", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xticks([zero_x, *pos], ["0", *[f"{p:g}" for p in pos]])
    ax.set_xlabel("basimglurant (nM, pre-incubated)")
    ax.set_ylabel("fEPSP slope 60 min after DHPG (% baseline)")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
