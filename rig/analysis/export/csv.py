"""The measurement time course as CSV: one row per sweep, units in the column names."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rig.analysis import results
from rig.analysis.ppr import ppr_course
from rig.analysis.summary import slope_field_of
from rig.storage import Recording

MEASURES = ("baseline_mV", "noise_mV", "slope_mV_per_ms", "amplitude_mV", "peak_latency_ms", "flags")
COLUMNS = ("sweep", "time_s", "time_min", "pathway", "phase", "phase_kind", "sweep_kind", "intensity_uA",
           "width_us", "n_pulses", *MEASURES, "slope_percent_of_baseline", "paired_pulse_ratio", "analysis_version")


def rows(rec: Recording) -> list[dict]:
    """One dict per sweep: stimulus, the first pulse's measurements, and the slope as % of the
    pathway's baseline for the sweeps of the result's time course (:mod:`rig.analysis.results`:
    valid test sweeps; blank for the others)."""
    fs = rec.sample_rate_hz
    st = rec.sweep_table
    phases = {p["index"]: p for p in rec.phases}
    m = rec.measurements
    first = {int(r["sweep_index"]): r for r in m[m["pulse"] == 0]}
    res = results.compute(rec, results.Settings(field=slope_field_of(rec)))
    ppr = {i: v for d in ppr_course(rec, slope_field_of(rec)).values()
           for i, v in zip(d["sweep"], d["ppr"], strict=True)}
    pct = {int(i): float(p) for r in res.pathways.values() for i, p in zip(r.sweep, r.percent, strict=True)}
    out = []
    for i in range(rec.n_sweeps):
        r = st[i]
        t = float(r["stim_sample"] / fs)
        ph = phases.get(int(r["phase"]), {"name": str(int(r["phase"])), "kind": ""})
        row = {"sweep": i, "time_s": round(t, 6), "time_min": round(t / 60, 6), "pathway": f"S{int(r['pathway']) + 1}",
               "phase": ph["name"], "phase_kind": ph["kind"], "sweep_kind": r["kind"].decode(),
               "intensity_uA": float(r["intensity_uA"]), "width_us": round(float(r["width_samples"] / fs * 1e6), 3),
               "n_pulses": int(r["n_pulses"])}
        meas = first.get(i)
        for k in MEASURES:
            v = None if meas is None else meas[k]
            if v is None or (k != "flags" and not np.isfinite(v)):
                row[k] = ""
            else:
                row[k] = int(v) if k == "flags" else round(float(v), 6)
        p = pct.get(i)
        row["slope_percent_of_baseline"] = "" if p is None else round(p, 3)
        row["paired_pulse_ratio"] = ppr.get(i, "")
        row["analysis_version"] = "" if meas is None else int(meas["analysis"]) if "analysis" in m.dtype.names else 0
        out.append(row)
    return out


def export_csv(rec: Recording, out: Path) -> dict:
    data = rows(rec)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(data)
    return {"output": str(out), "rows": len(data), "analysis": rec.analysis}
