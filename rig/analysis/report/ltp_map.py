"""MEA recordings in a report: the LTP map of each one (a figure on the array layout), a table of
every electrode and the fraction of responding electrodes that potentiated.

The numbers are those of ``rig summary`` (:mod:`rig.analysis.mea_summary`); this module only draws
and tabulates them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from rig.analysis.mea_summary import ltp_grid
from rig.analysis.report import figures
from rig.analysis.report.collect import Experiment

COLOURMAP = "RdBu_r"  # blue below 100 %, red above; white at 100 %
LIMITS_PCT = (50.0, 100.0, 200.0)  # colour scale: low, centre, high (% of baseline)
MEA_COLUMNS = ["file", "electrode", "row", "col", "x_um", "y_um", "role", "responding", "why_not_responding",
               "baseline_slope_mV_per_ms", "baseline_slope_cv", "baseline_amplitude_mV", "baseline_noise_mV",
               "ltp_percent", "potentiated", "depressed"]


def caption(mea: dict) -> str:
    frac = mea["fraction_potentiated"]
    return (f"{mea['responding']} responding electrodes, {mea['potentiated']} potentiated (> "
            f"{mea['potentiated_percent']:g} %)" + (f": {100 * frac:.0f} %" if frac is not None else "")
            + f"; {mea['method']} slope, last 10 min")


def ltp_map_figure(mea: dict, title: str = "") -> Figure:
    """The map: one square per electrode position, colour = % of baseline (responding electrodes),
    grey = recorded but not responding, S = stimulating, a frame around the field electrode."""
    lay = mea["layout"]
    rows, cols = lay["rows"], lay["cols"]
    grid = ltp_grid(mea)
    with figures.plt.rc_context(figures.STYLE):
        fig, ax = figures.plt.subplots(figsize=(figures.SINGLE_COL_IN + 0.9, figures.SINGLE_COL_IN * rows / cols + 0.8),
                                       layout="constrained")
        lo, mid, hi = LIMITS_PCT
        im = ax.imshow(np.ma.masked_invalid(grid), cmap=COLOURMAP, norm=TwoSlopeNorm(mid, lo, hi),
                       extent=(-0.5, cols - 0.5, rows - 0.5, -0.5))
        for r in mea["electrodes"]:
            i, j = r["row"], r["col"]
            if not r["responding"] or r["ltp_percent"] is None:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#DDDDDD", edgecolor="white", lw=0.5))
            if r["role"] == "stimulating":
                ax.text(j, i, "S", ha="center", va="center", fontsize=7, weight="bold")
            elif r["responding"] and r["ltp_percent"] is not None:
                ax.text(j, i, f"{r['ltp_percent']:.0f}", ha="center", va="center", fontsize=5.5)
            if r["role"] == "field":
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.2))
        ax.set_xticks(range(cols), [str(c + 1) for c in range(cols)])
        ax.set_yticks(range(rows), [str(r + 1) for r in range(rows)])
        ax.set_xlabel(f"column ({lay['pitch_um']:g} µm pitch)")
        ax.set_ylabel("row")
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.spines[:].set_visible(False)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label("fEPSP slope, % of baseline")
        ax.set_title((title + "\n" if title else "") + caption(mea).replace("; ", "\n", 1), loc="left")
    return fig


def mea_table(exps: list[Experiment]) -> pd.DataFrame:
    """Every electrode of every MEA recording (one row each)."""
    rows = [{"file": str(e.path), **{k: r.get(k) for k in MEA_COLUMNS if k != "file"}}
            for e in exps if e.mea for r in e.mea["electrodes"]]
    return pd.DataFrame(rows, columns=MEA_COLUMNS)


def write_maps(exps: list[Experiment], out: Path, fmt: str) -> list[dict]:
    """One LTP map per MEA recording under ``out/mea/``; what was drawn (file, figure, fraction)."""
    drawn = []
    for e in exps:
        if not e.mea:
            continue
        fig = figures.save(ltp_map_figure(e.mea, e.name), out / "mea" / f"{e.name}_ltp_map.{fmt}")
        preview = fig if fmt != "pdf" else figures.save(ltp_map_figure(e.mea, e.name), fig.with_suffix(".png"))
        m = e.mea
        drawn.append({"file": str(e.path), "figure": str(fig), "preview": str(preview), "caption": caption(m),
                      "responding": m["responding"], "potentiated": m["potentiated"], "depressed": m["depressed"],
                      "fraction_potentiated": m["fraction_potentiated"], "method": m["method"]})
    return drawn
