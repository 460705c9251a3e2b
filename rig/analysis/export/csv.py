"""The measurement time course as CSV: one row per sweep, units in the column names."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rig.analysis.summary import pathway_results
from rig.storage import Recording

MEASURES = ("baseline_mV", "noise_mV", "slope_mV_per_ms", "amplitude_mV", "peak_latency_ms", "flags")
COLUMNS = ("sweep", "time_s", "time_min", "pathway", "phase", "phase_kind", "sweep_kind", "intensity_uA",
           "width_us", "n_pulses", *MEASURES, "slope_percent_of_baseline")


def rows(rec: Recording) -> list[dict]:
    """One dict per sweep: stimulus, the first pulse's measurements, slope as % of the pathway's baseline."""
    fs = rec.sample_rate_hz
    st = rec.sweep_table
    phases = {p["index"]: p for p in rec.phases}
    m = rec.measurements
    first = {int(r["sweep_index"]): r for r in m[m["pulse"] == 0]}
    base = {pw: r["baseline_slope_mV_per_ms"] for pw, r in pathway_results(rec).items()}
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
        b = base.get(int(r["pathway"]))
        s = row["slope_mV_per_ms"]
        ok = b and s != "" and r["kind"] == b"test"
        row["slope_percent_of_baseline"] = round(float(s) / b * 100.0, 3) if ok else ""
        out.append(row)
    return out


def export_csv(rec: Recording, out: Path) -> dict:
    data = rows(rec)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(data)
    return {"output": str(out), "rows": len(data)}
