"""Load recordings for a report: per experiment the normalized time course, its magnitude, the
representative traces and the metadata; experiments that cannot enter the report are listed as
:class:`Excluded` with the reason (never silently dropped).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rig.analysis import results
from rig.analysis.mea_results import DEFAULT_SETTINGS, MapSettings
from rig.analysis.summary import RESULT_WINDOW_S, slope_field_of, summarize
from rig.core.errors import UserError
from rig.core.events import Induction
from rig.storage import Recording, open_recording

BAD_FLAGS = results.INVALID_FLAGS  # the result's rule (rig.analysis.results)
INDUCTION_KINDS = results.INDUCTION_PHASE_KINDS
TRACE_WINDOW_S = 300.0  # representative traces: mean of the last 5 min of baseline / of the recording


@dataclass
class Phase:
    """One phase on the experiment clock (s)."""

    name: str
    kind: str
    start_s: float
    end_s: float


@dataclass
class Experiment:
    """One slice recording, reduced to what the report needs."""

    path: Path
    metadata: dict
    protocol: str  # plan name
    signature: str  # what must match for experiments to be compared (see protocol_signature)
    pathway: int  # the result (induced) pathway
    align_s: float  # t = 0 of the aligned time course: onset of the induction (s, experiment clock)
    magnitude_pct: float  # mean normalized slope over the last 10 min (rig.analysis.results)
    baseline_slope: float  # mV/ms
    time_s: dict[int, np.ndarray]  # per pathway: test-pulse times on the experiment clock (s)
    norm_pct: dict[int, np.ndarray]  # per pathway: the result's time course (% of baseline, rig.analysis.results)
    phases: list[Phase]
    duration_s: float
    traces: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name -> (t ms, mV)
    ppr: float | None = None  # paired-pulse ratio of the baseline (slope 2 / slope 1), when recorded
    io_curve: tuple[np.ndarray, np.ndarray] | None = None  # (µA, mean slope mV/ms) when recorded
    ppr_curve: tuple[np.ndarray, np.ndarray] | None = None  # (interval ms, mean PPR) when recorded
    per_pathway_pct: dict[int, float | None] = field(default_factory=dict)
    complete: bool = True  # False: the run was interrupted or crashed (the file holds what was recorded)
    analysis_version: int = 0  # the analysis version its numbers come from (rig.storage.analyses)
    mea: dict | None = None  # an MEA recording: every electrode's result (rig.analysis.mea_summary)

    @property
    def animal(self) -> str:
        return str(self.metadata.get("animal_id") or "")

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass
class Excluded:
    path: Path
    reason: str


def _metadata(rec: Recording) -> dict:
    raw = rec.attrs.get("metadata", "{}")
    try:
        meta = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        meta = {}
    return meta if isinstance(meta, dict) else {}


def _phases(rec: Recording) -> list[Phase]:
    fs = rec.sample_rate_hz
    rows = rec.phases
    out = []
    for k, p in enumerate(rows):
        end = rows[k + 1]["start_sample"] / fs if k + 1 < len(rows) else rec.duration_s
        out.append(Phase(p["name"], p["kind"], p["start_sample"] / fs, end))
    return out


def protocol_signature(rec: Recording) -> str:
    """The induction paradigm: kinds and patterns of the inductions (and chemical phases) in order.

    Baseline length, drug wash-in and test interval may differ between comparable experiments (the
    time course is aligned to the induction); the induction itself must be the same.
    """
    parts = []
    for e in rec.typed_events:
        if isinstance(e, Induction):
            parts.append(f"{e.protocol or '?'}({e.planned} pulses)")  # the paradigm: planned count
    for p in rec.phases:
        if p["kind"] == "chemical":
            parts.append(f"chemical:{p['name']}")
    return " + ".join(parts) if parts else "no induction"


def _align_s(phases: list[Phase]) -> float | None:
    """Onset of the first induction/chemical phase; else the end of the baseline (sham induction)."""
    for p in phases:
        if p.kind in INDUCTION_KINDS:
            return p.start_s
    base = [p for p in phases if p.kind == "baseline"]
    return base[-1].end_s if base else None


def _test_rows(rec: Recording) -> np.ndarray:
    m = rec.measurements
    if not len(m):
        return m
    kinds = rec.sweep_table["kind"][m["sweep_index"]]
    m = m[(kinds == b"test")]
    return m[results.valid(m["flags"], m[results.DEFAULT_FIELD])]


def _mean_trace(rec: Recording, sweeps: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean of the given sweeps aligned to the stimulus, baseline-subtracted (t in ms, mV)."""
    if not len(sweeps):
        return None
    fs = rec.sample_rate_hz
    rows = rec.sweep_table[sweeps]
    pre = int(np.min(rows["stim_sample"] - rows["start_sample"]))
    post = int(np.min(rows["start_sample"] + rows["n_samples"] - rows["stim_sample"]))
    acc = np.zeros(pre + post)
    for i, r in zip(sweeps, rows, strict=True):
        x = rec.sweep_mV(int(i))
        k = int(r["stim_sample"] - r["start_sample"])
        seg = x[k - pre : k + post]
        acc += seg - np.mean(x[max(0, k - pre) : max(1, k - int(0.0005 * fs))])
    t_ms = (np.arange(-pre, post)) / fs * 1e3
    return t_ms, acc / len(sweeps)


def _ppr(rec: Recording, phase: int) -> float | None:
    """Paired-pulse ratio (slope 2 / slope 1) over the baseline, when test sweeps carry ≥ 2 pulses."""
    m = rec.measurements
    if not len(m):
        return None
    kinds = rec.sweep_table["kind"][m["sweep_index"]]
    m = m[(kinds == b"test") & (m["phase"] == phase) & ((m["flags"] & BAD_FLAGS) == 0)]
    p1 = {int(r["sweep_index"]): r["slope_mV_per_ms"] for r in m[m["pulse"] == 0]}
    ratios = [r["slope_mV_per_ms"] / p1[int(r["sweep_index"])] for r in m[m["pulse"] == 1]
              if int(r["sweep_index"]) in p1 and p1[int(r["sweep_index"])] != 0]
    return float(np.mean(ratios)) if ratios else None


def _ppr_curve(rec: Recording, phases: list[Phase]) -> tuple[np.ndarray, np.ndarray] | None:
    """Paired-pulse ratio (slope 2 / slope 1) per inter-pulse interval (ms) over the sweeps of kind
    ``paired`` in ``paired_pulse`` phases, when recorded."""
    m = rec.measurements
    if not len(m):
        return None
    st = rec.sweep_table
    pp_phases = [k for k, p in enumerate(phases) if p.kind == "paired_pulse"]
    m = m[(st["kind"][m["sweep_index"]] == b"paired") & np.isin(m["phase"], pp_phases)
          & ((m["flags"] & BAD_FLAGS) == 0)]
    first = {int(r["sweep_index"]): float(r["slope_mV_per_ms"]) for r in m[m["pulse"] == 0]}
    isi: list[float] = []
    ratio: list[float] = []
    for r in m[m["pulse"] == 1]:
        i = int(r["sweep_index"])
        if first.get(i):
            pulses = rec.pulse_samples(i)
            isi.append(round(float(pulses[1] - pulses[0]) / rec.sample_rate_hz * 1e3, 3))
            ratio.append(float(r["slope_mV_per_ms"]) / first[i])
    if not isi:
        return None
    x, y = np.asarray(isi), np.asarray(ratio)
    levels = np.unique(x)
    return levels, np.array([np.mean(y[x == v]) for v in levels])


def _io_curve(rec: Recording) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean first-pulse slope per intensity over the I/O sweeps (kind ``io``), when recorded."""
    m = rec.measurements
    if not len(m):
        return None
    st = rec.sweep_table
    m = m[(st["kind"][m["sweep_index"]] == b"io") & (m["pulse"] == 0) & ((m["flags"] & BAD_FLAGS) == 0)]
    if not len(m):
        return None
    ua = st["intensity_uA"][m["sweep_index"]]
    levels = np.unique(ua)
    return levels, np.array([np.mean(m["slope_mV_per_ms"][ua == u]) for u in levels])


def load_experiment(path: Path, *, traces: bool = True, analysis: int | None = None,
                    mea_settings: MapSettings = DEFAULT_SETTINGS) -> Experiment:
    """Read one recording (its newest analysis version, or ``analysis``); raises UserError (unreadable,
    no such version) or ValueError (cannot be reported: reason)."""
    with open_recording(path, analysis) as rec:
        s = summarize(rec, mea_settings=mea_settings)
        phases = _phases(rec)
        pw = int(s["result_pathway"])
        if s["baseline_slope_mV_per_ms"] is None:
            raise ValueError("missing baseline (no baseline-phase test pulses before the induction)")
        align = _align_s(phases)
        if align is None:
            raise ValueError("no induction and no baseline phase to align to")
        induced_end = max((p.end_s for p in phases if p.kind in INDUCTION_KINDS), default=align)
        follow_s = rec.duration_s - induced_end
        if s["ltp_percent"] is None and s.get("reason", "").startswith("no induction delivered"):
            raise ValueError(s["reason"])
        if s["ltp_percent"] is None or follow_s < RESULT_WINDOW_S:
            raise ValueError(f"follow-up of {max(follow_s, 0.0) / 60:.1f} min is shorter than the "
                             f"{RESULT_WINDOW_S / 60:.0f}-min result window")
        rows = _test_rows(rec)
        base_idx = max(k for k, p in enumerate(phases) if p.kind == "baseline" and p.start_s < align)
        time_s: dict[int, np.ndarray] = {}
        norm: dict[int, np.ndarray] = {}
        for k, r in results.compute(rec, results.Settings(field=slope_field_of(rec))).pathways.items():
            if r.baseline_mean is None or not len(r.percent):
                continue
            time_s[k] = r.t_min * 60.0
            norm[k] = r.percent
        exp = Experiment(
            path=Path(path), metadata=_metadata(rec), protocol=s["protocol"], signature=protocol_signature(rec),
            pathway=pw, align_s=float(align), magnitude_pct=float(s["ltp_percent"]),
            baseline_slope=float(s["baseline_slope_mV_per_ms"]), time_s=time_s, norm_pct=norm, phases=phases,
            duration_s=rec.duration_s,
            per_pathway_pct={int(k): v["ltp_percent"] for k, v in s["per_pathway"].items()},
            complete=bool(s["complete"]), analysis_version=rec.analysis, mea=s.get("mea"),
        )
        if traces:
            mine = rows[rows["pathway"] == pw]
            t = mine["sample"] / rec.sample_rate_hz
            base_end = min(align, phases[base_idx].end_s)
            sel = {"baseline": mine[(t < base_end) & (t >= base_end - TRACE_WINDOW_S) & (mine["phase"] == base_idx)],
                   "follow-up": mine[t >= rec.duration_s - TRACE_WINDOW_S]}
            for name, r in sel.items():
                tr = _mean_trace(rec, np.unique(r["sweep_index"]))
                if tr is not None:
                    exp.traces[name] = tr
        exp.ppr = _ppr(rec, base_idx)
        exp.io_curve = _io_curve(rec)
        exp.ppr_curve = _ppr_curve(rec, phases)
    return exp


def collect(paths: list[Path], *, same_protocol: bool = True, traces: bool = True,
            analysis: int | None = None, mea_settings: MapSettings = DEFAULT_SETTINGS
            ) -> tuple[list[Experiment], list[Excluded]]:
    """Load every recording; exclude unreadable ones, those without baseline or result, and (when
    ``same_protocol``) those whose induction differs from the most common one."""
    exps: list[Experiment] = []
    excluded: list[Excluded] = []
    for p in paths:
        try:
            exps.append(load_experiment(Path(p), traces=traces, analysis=analysis, mea_settings=mea_settings))
        except UserError as exc:
            excluded.append(Excluded(Path(p), f"unreadable: {exc}"))
        except ValueError as exc:
            excluded.append(Excluded(Path(p), str(exc)))
        except (OSError, KeyError) as exc:
            excluded.append(Excluded(Path(p), f"unreadable: {type(exc).__name__}: {exc}"))
    if same_protocol and exps:
        ref, _ = Counter(e.signature for e in exps).most_common(1)[0]
        keep = []
        for e in exps:
            if e.signature == ref:
                keep.append(e)
            else:
                excluded.append(Excluded(e.path, f"different protocol: {e.signature} (report uses {ref})"))
        exps = keep
    return exps, excluded
