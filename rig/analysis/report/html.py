"""report.html: one self-contained page (figures embedded as data URIs) with the group summary, the
statistics table and the excluded experiments."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

MIME = {".png": "image/png", ".svg": "image/svg+xml"}
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;color:#222;
line-height:1.4}table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{padding:3px 8px;
border-bottom:1px solid #ddd;text-align:left}th{border-bottom:2px solid #999}td.num{text-align:right;
font-variant-numeric:tabular-nums}img{max-width:100%}details{margin:.3em 0}.muted{color:#666}
"""


def embed(path: Path) -> str:
    """An <img> with the figure inside (PNG/SVG); other formats become a link."""
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        return f'<p><a href="{html.escape(path.name)}">{html.escape(path.name)}</a></p>'
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:{mime};base64,{data}">'


def _fmt(v: object, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        if col in ("p", "p_adj"):
            return "< 0.0001" if v < 1e-4 else f"{v:.4f}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            cls = ' class="num"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{html.escape(_fmt(v, c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def write_html(path: Path, *, title: str, intro: str, main_fig: Path | None, groups: pd.DataFrame,
               stats: pd.DataFrame, excluded: pd.DataFrame, experiment_figs: list[Path],
               mea_maps: list[tuple[str, Path]] = ()) -> Path:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>{html.escape(intro)}</p>"]
    if main_fig is not None:
        parts += ["<h2>Groups</h2>", embed(main_fig)]
    parts += [table(groups), "<h2>Statistics</h2>",
              "<p class='muted'>Per-slice values: slices.csv. This table: stats.csv. "
              "Differences are the later group minus the first (reference) group.</p>",
              table(stats.drop(columns=["group_a", "group_b"], errors="ignore"))]
    if mea_maps:
        parts.append("<h2>MEA: LTP maps</h2><p class='muted'>Per electrode on the array: % of baseline over the "
                     "last 10 min (responding electrodes; grey: not responding; S: stimulating; framed: the field "
                     "electrode). Every electrode: mea.csv.</p>")
        for text, f in mea_maps:
            parts.append(f"<h3>{html.escape(text)}</h3>{embed(f)}")
    parts.append("<h2>Excluded experiments</h2>")
    parts.append(table(excluded) if len(excluded) else "<p>None.</p>")
    if experiment_figs:
        parts.append("<h2>Experiments</h2>")
        for f in experiment_figs:
            parts.append(f"<details><summary>{html.escape(f.stem)}</summary>{embed(f)}</details>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
