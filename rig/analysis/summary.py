"""What a recording holds and its result: LTP/LTD magnitude as % of baseline."""

from __future__ import annotations

import numpy as np

from rig.analysis import results
from rig.analysis.mea_results import DEFAULT_SETTINGS, MapSettings
from rig.analysis.mea_summary import format_mea, mea_summary
from rig.analysis.ppr import ppr_course
from rig.core import events as ev
from rig.detector.measurement import SLOPE_FIELD
from rig.storage import Recording

RESULT_WINDOW_S = results.WINDOW_MIN * 60.0  # LTP/LTD magnitude: mean of the last 10 min

# What `rig summary` does with every event type (tests check the table is complete). Every event
# is listed under "events"; these sections say more.
SUMMARY_EVENTS: dict[type[ev.Event], str] = {
    ev.Induction: "inductions", ev.InductionHeld: "inductions", ev.AnalysisVersion: "analyses",
    ev.Alarm: "alarms", ev.Operator: "operator",
    ev.Paused: "pauses", ev.Resumed: "pauses", ev.IntensitySet: "intensity_changes",
    ev.Gap: "integrity (status counters)", ev.AverageMeasured: "averages", ev.Overrun: "integrity (status counters)",
    ev.LateWrite: "integrity (status counters)", ev.SweepLost: "integrity (status counters)",
    ev.SweepDiscarded: "integrity (status counters)",
    **{t: "listed" for t in (
        ev.OutputsZeroed, ev.StimulusMissed, ev.OutputUnderflow, ev.WindowsChanged, ev.WindowsRefused,
        ev.WindowsProposed, ev.WindowsUncertain, ev.PhaseEntered, ev.Valve, ev.BaselineStable, ev.BaselineExtended,
        ev.BaselineUnstable, ev.IoFit, ev.TrackingFrozen, ev.OperatorRefused, ev.ControlUnavailable,
        ev.Recovered, ev.ObserverError, ev.UnknownEvent, ev.GainChanged, ev.TelegraphUnreadable,
        ev.StimulusMismatch, ev.SiteGuard)},
}


def slope_field_of(rec: Recording) -> str:
    """The slope field of the analysis version in use (its ``method``; regression by default)."""
    return SLOPE_FIELD.get(rec.analysis_info.get("method", ""), results.DEFAULT_FIELD)


def analysis_used(rec: Recording) -> dict:
    """Which analysis version a result comes from (``analysis`` in the JSON of summary, report, export)."""
    a = rec.analysis_info
    return {"version": rec.analysis, "source": a["source"], "method": a["method"], "windows": a["windows"],
            "pathway_windows": a.get("pathway_windows") or {},
            "time_s": a["time_s"], "versions": len(rec.analyses), "newest": rec.analysis == rec.analyses[-1]["version"]}


def analysis_line(a: dict) -> str:
    """One line naming the analysis version a result comes from."""
    w = a["windows"].get("slope") if isinstance(a.get("windows"), dict) else None
    sw = f", slope window {w[0]:g}–{w[1]:g} ms" if isinstance(w, list) and len(w) == 2 else ""
    own = [(int(p), d["slope"]) for p, d in (a.get("pathway_windows") or {}).items()
           if str(p).isdigit() and isinstance(d, dict) and isinstance(d.get("slope"), list) and len(d["slope"]) == 2]
    if sw and own:  # the pathways with their own slope window
        sw += " (" + ", ".join(f"S{p + 1} {v[0]:g}–{v[1]:g}" for p, v in sorted(own)) + ")"
    return (f"analysis      version {a['version']} of 0–{a['versions'] - 1} ({a['source']}, {a['method']}{sw})"
            + ("" if a["newest"] else "  [not the newest]"))


def sweep_delivery(rec: Recording) -> dict | None:
    """Pulses planned and delivered over the sweeps, per sweep kind (format ≥ 1.3; None before)."""
    st = rec.sweep_table
    if "pulses_delivered" not in (st.dtype.names or ()):
        return None
    out = {}
    for k in sorted({x.decode() for x in st["kind"]}):
        s = st[st["kind"] == k.encode()]
        out[k] = {"sweeps": int(len(s)), "pulses_planned": int(s["pulses_planned"].sum()),
                  "pulses_delivered": int(s["pulses_delivered"].sum()),
                  "short_sweeps": int(np.sum(s["pulses_delivered"] < s["pulses_planned"]))}
    return out


def pathway_results(rec: Recording, slope_field: str | None = None, averaged: bool = False) -> dict[int, dict]:
    """Per pathway: baseline mean slope (mV/ms), % of baseline over the last 10 min and the sweep
    counts behind them (:mod:`rig.analysis.results`), from the recording's analysis version (its
    single sweeps; ``averaged``: its averaged measurements instead)."""
    res = results.compute(rec, results.Settings(field=slope_field or slope_field_of(rec)), averaged=averaged)
    return {pw: r.to_dict() for pw, r in res.pathways.items()}


def summarize(rec: Recording, averaged: bool = False, mea_settings: MapSettings = DEFAULT_SETTINGS) -> dict:
    """The `rig summary --json` document (``averaged``: the result from the averaged measurements;
    with ``mea`` for an MEA recording: rig.analysis.mea_summary)."""
    per = pathway_results(rec, averaged=averaged)
    fs = rec.sample_rate_hz
    events = rec.typed_events
    induced = [e for e in events if isinstance(e, ev.Induction)]
    main_pw = induced[0].pathways[0] if induced and induced[0].pathways else (min(per) if per else 0)
    main = per.get(main_pw, {"baseline_slope_mV_per_ms": None, "ltp_percent": None})
    names = [p for p in np.asarray(rec.attrs.get("pathways", [0])).tolist()]
    ops = [e for e in events if isinstance(e, ev.Operator)]
    mea = mea_summary(rec, int(main_pw), mea_settings)
    return {
        "file": str(rec.path),
        "format_version": str(rec.attrs.get("format_version", "")),
        "measured_from": "averaged measurements" if averaged else "single sweeps",
        "analysis": analysis_used(rec),
        "analyses": [{k: a[k] for k in ("version", "source", "method", "time_s", "remeasured", "text")}
                     for a in rec.analyses],
        "protocol": str(rec.attrs.get("plan_name", "")),
        "complete": rec.complete,
        "stop_reason": rec.status["stop_reason"].decode(),
        "sweeps": rec.n_sweeps,
        "damaged_sweeps": rec.verify(),  # rows whose CRC-32 or bounds fail (never measured as data)
        "truncated": None if rec.truncated is None else {"bytes": rec.truncated[0], "recorded_bytes": rec.truncated[1]},
        "duration_s": rec.duration_s,
        "sample_rate_hz": rec.sample_rate_hz,
        "pathways": names,
        "seed": int(rec.attrs.get("seed", -1)),
        "baseline_slope_mV_per_ms": main["baseline_slope_mV_per_ms"],
        "ltp_percent": main["ltp_percent"],
        "result_pathway": int(main_pw),
        "per_pathway": {str(k): v for k, v in per.items()},
        "inductions": [{"kind": e.protocol, "time_s": e.sample / fs, "pulses": int(e.pulses),
                        "pulses_planned": e.planned, "pulses_delivered": e.delivered,
                        "status": e.status or "delivered (format < 1.2: planned count)",
                        "first_sample": e.first_sample, "last_sample": e.last_sample} for e in induced],
        "sweep_delivery": sweep_delivery(rec),
        "ppr": {str(k): v for k, v in ppr_course(rec, slope_field_of(rec)).items()},
        "induction_holds": [{"time_s": e.sample / fs, "pulses_pending": e.pulses_pending}
                            for e in events if isinstance(e, ev.InductionHeld)],
        "reason": main.get("reason", ""),
        "warnings": [w for r in per.values() for w in r.get("warnings", [])],
        "alarms": [{"time_s": e.sample / fs, "alarm": e.alarm, "pathway": e.pathway, "action": e.action}
                   for e in events if isinstance(e, ev.Alarm)],
        "pauses": [{"time_s": e.sample / fs, "paused": isinstance(e, ev.Paused), "cause": e.cause}
                   for e in events if isinstance(e, (ev.Paused, ev.Resumed))],
        "intensity_changes": [{"time_s": e.sample / fs, "pathway": e.pathway, "intensity_uA": e.intensity_uA,
                               "rule": e.rule if isinstance(e.rule, str) else "io_curve"}
                              for e in events if isinstance(e, ev.IntensitySet) and e.changed],
        "operator": {"commands": len(ops), "refused": sum(not e.accepted for e in ops),
                     "marks": [{"time_s": e.sample / fs, "text": e.note} for e in ops if e.cmd == "mark"]},
        "averages": _averages(rec, events, per, fs),
        "windows_changes": [{"time_s": e.sample / fs, "source": e.source or "operator", "text": e.text}
                            for e in events if isinstance(e, ev.WindowsChanged)],
        "windows_uncertain": [e.text for e in events if isinstance(e, ev.WindowsUncertain)],
        "events": [{"time_s": e.sample / fs, "kind": e.kind, "text": e.text} for e in events],
        "gaps": int(rec.status["gaps"]),
        "lost_samples": int(rec.status["lost_samples"]),
        "late_writes": int(rec.status["late_writes"]),
        "stimuli_missed": sum(isinstance(e, ev.StimulusMissed) for e in events),  # scheduled, never delivered
        **({"mea": mea} if mea is not None else {}),
    }


def _end_state(s: dict) -> str:
    """How the run ended: the file closed cleanly or not, and whether the plan was completed."""
    if not s["complete"]:
        return f"INCOMPLETE: {s['stop_reason']}"
    return "complete: completed" if s["stop_reason"] == "completed" else f"NOT COMPLETED: {s['stop_reason']}"


def _averages(rec: Recording, events: list, per: dict[int, dict], fs: float) -> dict[str, list[dict]]:
    """Per pathway: the averaged measurements (format ≥ 1.4: the rows with ``averaged_n`` of the analysis
    version in use, :attr:`Recording.averaged`; 1.3: the ``average_measured`` events), with the slope
    as % of the pathway's baseline mean of the single sweeps (averages never enter the result)."""
    out: dict[str, list[dict]] = {}

    def add(pw: int, t_s: float, first: int, last: int, n: int, slope, amp, flags: int) -> None:
        base = per.get(pw, {}).get("baseline_slope_mV_per_ms")
        pct = slope / base * 100.0 if slope is not None and base else None
        out.setdefault(str(pw), []).append(
            {"time_s": t_s, "first_sweep": first, "last_sweep": last, "sweeps": n, "slope_mV_per_ms": slope,
             "percent_of_baseline": pct, "amplitude_mV": amp, "flags": flags})

    if "averaged_n" in (rec.all_measurements.dtype.names or ()):
        field = slope_field_of(rec)
        num = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
        for r in rec.averaged[rec.averaged["pulse"] == 0]:
            add(int(r["pathway"]), float(r["sample"]) / fs, int(r["first_sweep"]), int(r["sweep_index"]),
                int(r["averaged_n"]), num(r[field]), num(r["amplitude_mV"]), int(r["flags"]))
        return out
    for e in events:
        if isinstance(e, ev.AverageMeasured):
            v = e.values or {}
            add(e.pathway, e.sample / fs, e.first_sweep, e.last_sweep, e.sweeps, v.get("slope_mV_per_ms"),
                v.get("amplitude_mV"), e.flags)
    return out


def format_summary(s: dict) -> str:
    """Human-readable summary."""
    lines = [
        f"file          {s['file']}",
        f"protocol      {s['protocol']}   ({_end_state(s)})",
        f"duration      {s['duration_s'] / 60:.1f} min on the sample clock at {s['sample_rate_hz']:.0f} Hz",
        f"sweeps        {s['sweeps']}   gaps {s['gaps']}   late writes {s['late_writes']}"
        + (f"   STIMULI MISSED {s['stimuli_missed']} (not delivered)" if s.get("stimuli_missed") else "")
        + (f"   DAMAGED {len(s['damaged_sweeps'])} (CRC fails; `rig recover` drops them)"
           if s.get("damaged_sweeps") else "")
        + (f"\nTRUNCATED     {s['truncated']['bytes']} of {s['truncated']['recorded_bytes']} bytes: "
           "not complete; `rig recover` keeps every intact sweep" if s.get("truncated") else ""),
    ]
    if "analysis" in s:
        lines.append(analysis_line(s["analysis"]))
    for ind in s["inductions"]:
        lines.append(f"induction     {ind['kind']} at {ind['time_s'] / 60:.1f} min, {ind['pulses_delivered']} of "
                     f"{ind['pulses_planned']} pulses delivered ({ind['status']})")
    for k, d in (s.get("sweep_delivery") or {}).items():
        if d["short_sweeps"]:
            lines.append(f"delivered     {k} sweeps: {d['short_sweeps']} of {d['sweeps']} with fewer pulses delivered "
                         f"than planned ({d['pulses_delivered']} of {d['pulses_planned']})")
    for h in s.get("induction_holds", []):
        lines.append(f"held          induction held at {h['time_s'] / 60:.1f} min (stimulation paused): "
                     f"{h['pulses_pending']} pulses waited for the resume")
    for a in s["alarms"]:
        lines.append(f"alarm         {a['alarm']} at {a['time_s'] / 60:.1f} min → {a['action']}")
    op = s["operator"]
    if op["commands"]:
        lines.append(f"operator      {op['commands']} commands ({op['refused']} refused), {len(op['marks'])} marks, "
                     f"{sum(p['paused'] for p in s['pauses'])} pauses")
    for w in s.get("windows_changes", []):
        lines.append(f"windows       {w['source']} at {w['time_s'] / 60:.1f} min: {w['text']}")
    for w in s.get("windows_uncertain", []):
        lines.append(f"windows       WARNING: {w}")
    for pw, r in s["per_pathway"].items():
        b = r["baseline_slope_mV_per_ms"]
        p = r["ltp_percent"]
        name = f"pathway S{int(pw) + 1}"
        lines.append(f"{name}    baseline slope {b:.3f} mV/ms" if b is not None else f"{name}    no baseline")
        if p is not None:
            lines.append(f"              last 10 min: {p:.1f} % of baseline")
        elif r.get("reason"):
            lines.append(f"              no result: {r['reason']}")
        for w in r.get("warnings", []):
            lines.append(f"              WARNING: {w}")
        if r.get("baseline_settling_sweeps"):
            lines.append(f"              {r['baseline_settling_sweeps']} baseline sweeps before the last windows "
                         "change left out of the baseline")
        avg = s.get("averages", {}).get(pw, [])
        if avg:
            last = avg[-1]
            pct = last["percent_of_baseline"]
            lines.append(f"              {len(avg)} averages of {last['sweeps']} sweeps; last (sweeps "
                         f"{last['first_sweep']}–{last['last_sweep']}): "
                         + (f"{pct:.1f} % of baseline" if pct is not None else "no slope"))
        bad = int(r.get("baseline_excluded", 0)) + int(r.get("result_excluded", 0))
        if bad:
            lines.append(f"              {bad} invalid sweeps left out (clipped, outside the sweep, non-finite, "
                         "not an fEPSP or no stimulus)")
    for pw, d in (s.get("ppr") or {}).items():
        f = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"PPR S{int(pw) + 1}        paired pulses {d['interval_ms']:g} ms apart, {d['n']} sweeps: "
                     f"baseline {f(d['baseline_mean'])}, last 10 min {f(d['last_10min_mean'])}")
    if s.get("mea"):
        lines += format_mea(s["mea"])
    if s["ltp_percent"] is not None:
        of = " of the averaged measurements" if s.get("measured_from") == "averaged measurements" else ""
        lines.append(f"RESULT        {s['ltp_percent']:.1f} % of baseline (mean normalized fEPSP slope{of}, "
                     "last 10 min)")
    elif s.get("reason"):
        lines.append(f"NO RESULT     {s['reason']}")
    return "\n".join(lines)
