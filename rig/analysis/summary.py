"""What a recording holds and its result: LTP/LTD magnitude as % of baseline."""

from __future__ import annotations

import numpy as np

from rig.analysis import results
from rig.storage import Recording

RESULT_WINDOW_S = results.WINDOW_MIN * 60.0  # LTP/LTD magnitude: mean of the last 10 min


def pathway_results(rec: Recording, slope_field: str = results.DEFAULT_FIELD) -> dict[int, dict]:
    """Per pathway: baseline mean slope (mV/ms), % of baseline over the last 10 min and the sweep
    counts behind them (:mod:`rig.analysis.results`)."""
    res = results.compute(rec, results.Settings(field=slope_field))
    return {pw: r.to_dict() for pw, r in res.pathways.items()}


def summarize(rec: Recording) -> dict:
    """The `rig summary --json` document."""
    per = pathway_results(rec)
    induced = [e for e in rec.events if e["kind"] == "induction"]
    main_pw = induced[0]["data"].get("pathways", [0])[0] if induced else (min(per) if per else 0)
    main = per.get(main_pw, {"baseline_slope_mV_per_ms": None, "ltp_percent": None})
    names = [p for p in np.asarray(rec.attrs.get("pathways", [0])).tolist()]
    return {
        "file": str(rec.path),
        "format_version": str(rec.attrs.get("format_version", "")),
        "protocol": str(rec.attrs.get("plan_name", "")),
        "complete": rec.complete,
        "stop_reason": rec.status["stop_reason"].decode(),
        "sweeps": rec.n_sweeps,
        "duration_s": rec.duration_s,
        "sample_rate_hz": rec.sample_rate_hz,
        "pathways": names,
        "seed": int(rec.attrs.get("seed", -1)),
        "baseline_slope_mV_per_ms": main["baseline_slope_mV_per_ms"],
        "ltp_percent": main["ltp_percent"],
        "result_pathway": int(main_pw),
        "per_pathway": {str(k): v for k, v in per.items()},
        "inductions": [{"kind": e["data"].get("kind", ""), "time_s": e["time_s"],
                        "pulses": int(e["data"].get("pulses", 0))} for e in induced],
        "events": [{"time_s": e["time_s"], "kind": e["kind"], "text": e["text"]} for e in rec.events],
        "gaps": int(rec.status["gaps"]),
        "lost_samples": int(rec.status["lost_samples"]),
        "late_writes": int(rec.status["late_writes"]),
    }


def format_summary(s: dict) -> str:
    """Human-readable summary."""
    lines = [
        f"file          {s['file']}",
        f"protocol      {s['protocol']}   ({'complete' if s['complete'] else 'INCOMPLETE'}: {s['stop_reason']})",
        f"duration      {s['duration_s'] / 60:.1f} min on the sample clock at {s['sample_rate_hz']:.0f} Hz",
        f"sweeps        {s['sweeps']}   gaps {s['gaps']}   late writes {s['late_writes']}",
    ]
    for ind in s["inductions"]:
        lines.append(f"induction     {ind['kind']} at {ind['time_s'] / 60:.1f} min, {ind['pulses']} pulses")
    for pw, r in s["per_pathway"].items():
        b = r["baseline_slope_mV_per_ms"]
        p = r["ltp_percent"]
        name = f"pathway S{int(pw) + 1}"
        lines.append(f"{name}    baseline slope {b:.3f} mV/ms" if b is not None else f"{name}    no baseline")
        if p is not None:
            lines.append(f"              last 10 min: {p:.1f} % of baseline")
        elif r.get("reason"):
            lines.append(f"              no result: {r['reason']}")
        bad = int(r.get("baseline_excluded", 0)) + int(r.get("result_excluded", 0))
        if bad:
            lines.append(f"              {bad} invalid sweeps left out (clipped, outside the sweep or non-finite)")
    if s["ltp_percent"] is not None:
        lines.append(f"RESULT        {s['ltp_percent']:.1f} % of baseline (mean normalized fEPSP slope, last 10 min)")
    return "\n".join(lines)
