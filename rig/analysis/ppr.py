"""The paired-pulse ratio time course of paired test pulses (``stimulation.paired_interval_ms``).

PPR = response 2 / response 1 of each valid paired test sweep (the slope field of the analysis
version in use; :func:`rig.detector.paired_pulse_ratio`); a sweep counts when neither pulse's
measurement is invalid (:data:`rig.analysis.results.INVALID_FLAGS`). Per pathway: the time course,
the mean over the reference baseline phase and over the last 10 min.
"""

from __future__ import annotations

import math

import numpy as np

from rig.analysis import results


def ppr_course(rec, field: str = results.DEFAULT_FIELD) -> dict[int, dict]:
    """Per pathway with paired test sweeps: ``time_s``, ``sweep``, ``ppr`` lists, ``baseline_mean``,
    ``last_10min_mean`` and ``interval_ms`` (None means: no valid pair there)."""
    m = rec.measurements
    st = rec.sweep_table
    if not len(m) or not len(st):
        return {}
    m = m[m["pulse"] < 2]
    kinds = st["kind"][np.clip(m["sweep_index"], 0, len(st) - 1)]
    m = m[np.isin(kinds, [k.encode() for k in results.RESULT_SWEEP_KINDS])]
    by_sweep: dict[int, dict[int, np.void]] = {}
    for r in m:
        by_sweep.setdefault(int(r["sweep_index"]), {})[int(r["pulse"])] = r
    fs = rec.sample_rate_hz
    ref = results.reference_baseline_phase((p["index"], p["kind"]) for p in rec.phases)
    out: dict[int, dict] = {}
    for i, rows in sorted(by_sweep.items()):
        if len(rows) < 2:
            continue
        a, b = rows[0], rows[1]
        y1, y2 = float(a[field]), float(b[field])
        if not (results.is_valid(int(a["flags"]), y1) and results.is_valid(int(b["flags"]), y2)) or y1 == 0.0:
            continue
        pw = int(st["pathway"][i])
        d = out.setdefault(pw, {"time_s": [], "sweep": [], "ppr": [], "phase": [], "interval_ms": None})
        pulses = rec.pulse_samples(i)
        if d["interval_ms"] is None and len(pulses) > 1:
            d["interval_ms"] = round(float(pulses[1] - pulses[0]) / fs * 1e3, 3)
        d["time_s"].append(round(float(st["stim_sample"][i]) / fs, 4))
        d["sweep"].append(i)
        d["ppr"].append(round(y2 / y1, 5))
        d["phase"].append(int(st["phase"][i]))
    end_s = rec.duration_s
    for d in out.values():
        t, y, ph = np.array(d["time_s"]), np.array(d["ppr"]), np.array(d.pop("phase"))
        base = y[ph == ref] if ref is not None else y[:0]
        last = y[t >= end_s - results.WINDOW_MIN * 60.0]
        d["baseline_mean"] = _mean(base)
        d["last_10min_mean"] = _mean(last) if ref is None or np.any(ph > ref) else None
        d["n"] = int(y.size)
    return out


def _mean(v: np.ndarray) -> float | None:
    return round(float(np.mean(v)), 4) if v.size and math.isfinite(float(np.mean(v))) else None
