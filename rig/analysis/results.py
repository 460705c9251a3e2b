"""The result: the normalised time course and the LTP/LTD magnitude (% of baseline), defined once.

Every caller — ``rig summary``, the window's time course, ``rig report``, ``rig export``,
``rig validate-sim`` and the closed-loop baseline gate — goes through this module. The definition
(docs/analysis.md, "The result"):

- **measure**: the first pulse's fEPSP initial slope, regression method (``slope_mV_per_ms``;
  settable to another slope method or field);
- **sweeps**: test sweeps only (kind ``test``); a sweep is *invalid* when its measurement carries a
  flag of :data:`INVALID_FLAGS` (clipped samples, a window outside the sweep, non-finite samples)
  or the value is not finite; invalid sweeps are counted, never used;
- **baseline**: the valid test sweeps of the reference baseline phase — the last ``baseline`` phase
  that starts before the first induction (``induction`` or ``chemical`` phase); with no induction,
  the last baseline phase. Optionally only its last ``baseline_min`` minutes. Only sweeps after the
  last change of the pathway's windows before the phase's end count (one baseline never mixes two window sets; the
  sweeps before it, e.g. those the auto windows were placed on, are counted as settling sweeps);
- **normalisation**: per pathway, value / baseline mean × 100 (% of baseline; slopes are negative,
  the ratio is positive);
- **magnitude**: the mean % of baseline of the valid test sweeps in the last ``window_min``
  (default 10) minutes of the recording that come after the reference baseline phase;
- optional averaging of N consecutive sweeps of the time course (the magnitude always uses the
  single sweeps);
- **intensity**: only sweeps at the baseline's test intensity (that of its last valid sweep) enter
  the magnitude; sweeps at another intensity are counted and warned about (``any_intensity``
  lifts the rule);
- **delivered**: a recording whose electrical inductions delivered no pulse (paused and skipped,
  stopped before it) has no magnitude, with the reason.

Pure numpy; imports nothing of rig but :mod:`rig.detector` (flags, slope fields) and
:mod:`rig.core` (the event vocabulary), so the closed loop and the display may import it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from rig.detector.measurement import NO_STIMULUS, NONFINITE, NOT_FEPSP, SATURATED, SLOPE_FIELD, WINDOW_OUTSIDE

#: A measurement with any of these flag bits set is invalid: it never enters a baseline, a time
#: course point or a magnitude: clipped or non-finite samples, a window outside the sweep, a response
#: that is not an fEPSP (positive-going, action-potential-sized) or no stimulus found. The other bits
#: (NO_RESPONSE, NO_VOLLEY, POP_SPIKE_IN_SLOPE, SLOPE_AT_TROUGH, SLOPE_IN_VOLLEY, NO_RISE,
#: NOT_VOLTAGE) are warnings: the slope was measured, a lost response is a real 0-ish value that
#: belongs in the result.
INVALID_FLAGS = int(SATURATED) | int(WINDOW_OUTSIDE) | int(NONFINITE) | int(NOT_FEPSP) | int(NO_STIMULUS)
DEFAULT_FIELD = SLOPE_FIELD["regression"]  # mV/ms
RESULT_SWEEP_KINDS = ("test",)
INDUCTION_PHASE_KINDS = ("induction", "chemical")
BASELINE_PHASE_KIND = "baseline"
WINDOW_MIN = 10.0  # magnitude: mean of the last 10 min


@dataclass(frozen=True)
class Settings:
    """What the result is made of. ``field``: measurement field (slope method); ``window_min``:
    magnitude window at the end of the recording (min); ``baseline_min``: only the last N minutes
    of the reference baseline phase (None: the whole phase); ``average_n``: time-course points are
    means of N consecutive valid sweeps (1: every sweep)."""

    field: str = DEFAULT_FIELD
    window_min: float = WINDOW_MIN
    baseline_min: float | None = None
    average_n: int = 1
    any_intensity: bool = False

    def __post_init__(self) -> None:
        if not self.window_min > 0:
            raise ValueError(f"window_min must be > 0 min, got {self.window_min}")
        if self.baseline_min is not None and not self.baseline_min > 0:
            raise ValueError(f"baseline_min must be > 0 min or None, got {self.baseline_min}")
        if int(self.average_n) < 1:
            raise ValueError(f"average_n must be ≥ 1 sweep, got {self.average_n}")


@dataclass(frozen=True)
class PathwayResult:
    """One pathway's result. Values in the field's unit (mV/ms for slopes), times in min on the
    experiment clock, percent = % of the baseline mean. ``reason`` says why ``magnitude_percent``
    (or the baseline) is missing; "" when there is a magnitude."""

    pathway: int
    baseline_mean: float | None
    n_baseline: int  # valid baseline sweeps used
    n_baseline_excluded: int  # invalid baseline sweeps left out
    t_min: np.ndarray  # time-course point times (min)
    percent: np.ndarray  # time-course points (% of baseline); empty without a baseline
    sweep: np.ndarray  # sweep index of each time-course point (-1 for averaged points)
    magnitude_percent: float | None
    n_used: int  # valid sweeps in the magnitude window
    n_excluded: int  # invalid sweeps in the magnitude window
    n_sweeps: int  # test sweeps of this pathway (valid or not)
    reason: str = ""
    n_other_intensity: int = 0  # sweeps of the magnitude window left out: not at the baseline intensity
    warnings: tuple[str, ...] = ()
    n_baseline_settling: int = 0  # baseline-phase sweeps before the last windows change: not used
    baseline_sd: float | None = None  # SD (ddof 1) of the valid baseline values (None: fewer than 2)

    def to_dict(self) -> dict:
        """The JSON form used by ``rig summary`` (``baseline_slope_mV_per_ms``, ``ltp_percent`` …)."""
        return {"baseline_slope_mV_per_ms": self.baseline_mean, "ltp_percent": self.magnitude_percent,
                "test_sweeps": self.n_sweeps, "baseline_sweeps": self.n_baseline,
                "baseline_excluded": self.n_baseline_excluded, "result_sweeps": self.n_used,
                "result_excluded": self.n_excluded, "reason": self.reason,
                "other_intensity_sweeps": self.n_other_intensity, "warnings": list(self.warnings),
                "baseline_settling_sweeps": self.n_baseline_settling}


@dataclass(frozen=True)
class Result:
    """The result of one recording: settings, reference baseline phase, one entry per pathway."""

    settings: Settings
    baseline_phase: int | None
    end_s: float
    pathways: dict[int, PathwayResult] = field(default_factory=dict)


class RecordingLike(Protocol):
    """What :func:`compute` reads (``rig.storage.Recording`` satisfies it)."""

    measurements: np.ndarray
    sweep_table: np.ndarray
    phases: list[dict]
    sample_rate_hz: float
    duration_s: float
    attrs: Any


def valid(flags: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask of valid measurements: no :data:`INVALID_FLAGS` bit set and a finite value."""
    f = np.asarray(flags).astype(np.int64)
    v = np.asarray(values, dtype=np.float64)
    return ((f & INVALID_FLAGS) == 0) & np.isfinite(v)


def is_valid(flags: int, value: float) -> bool:
    """Scalar form of :func:`valid` (one measurement)."""
    return not (int(flags) & INVALID_FLAGS) and math.isfinite(float(value))


def percent_of(values: np.ndarray, reference: float) -> np.ndarray:
    """``values`` as % of ``reference`` (same unit); NaN everywhere when the reference is 0/NaN."""
    v = np.asarray(values, dtype=np.float64)
    if not (math.isfinite(reference) and reference != 0.0):
        return np.full(v.shape, np.nan)
    return v / reference * 100.0


def reference_baseline_phase(phases: Iterable[tuple[int, str]]) -> int | None:
    """Index of the reference baseline phase among ``(index, kind)`` pairs (in run order): the last
    baseline phase before the first induction/chemical phase; with no induction the last baseline."""
    items = list(phases)
    first_ind = next((i for i, k in items if k in INDUCTION_PHASE_KINDS), None)
    base = [i for i, k in items if k == BASELINE_PHASE_KIND and (first_ind is None or i < first_ind)]
    return base[-1] if base else None


def _average(t: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``n`` consecutive points (the last block may be shorter)."""
    if n <= 1 or t.size == 0:
        return t, y
    edges = np.arange(0, t.size, n)
    cnt = np.diff(np.append(edges, t.size))
    return np.add.reduceat(t, edges) / cnt, np.add.reduceat(y, edges) / cnt


def pathway_result(pathway: int, t_s: np.ndarray, values: np.ndarray, flags: np.ndarray,
                   phase: np.ndarray, ref_phase: int | None, end_s: float,
                   settings: Settings = Settings(), *, sweep: np.ndarray | None = None,
                   counts: np.ndarray | None = None, baseline_end_s: float | None = None,
                   intensity_uA: np.ndarray | None = None, baseline_from_s: float | None = None) -> PathwayResult:
    """The result of one pathway from its per-sweep arrays (first-pulse measurements, run order).

    ``t_s``: stimulus time (s, experiment clock); ``values``: the measurement (``settings.field``);
    ``flags``: its flag bits; ``phase``: phase index; ``ref_phase``: see
    :func:`reference_baseline_phase`; ``end_s``: end of the recording (s), the magnitude window is
    [end − window, end]. ``counts``: which points are result sweeps (kind ``test``; default all) —
    the others are shown in the time course but never enter the baseline or the magnitude.
    ``baseline_end_s``: end of the reference baseline phase, for ``settings.baseline_min``.
    ``intensity_uA``: each sweep's test intensity; magnitude sweeps not at the baseline's are left out.
    ``baseline_from_s``: the last windows change before the baseline's end; earlier sweeps do not count.
    """
    t = np.asarray(t_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    ph = np.asarray(phase)
    sw = np.full(t.shape, -1, dtype=np.int64) if sweep is None else np.asarray(sweep, dtype=np.int64)
    cnt = np.ones(t.shape, bool) if counts is None else np.asarray(counts, bool)
    ok = valid(flags, y)
    n_sweeps = int(np.sum(cnt))
    empty = np.zeros(0)

    def none(reason: str, base: float | None = None, nb: int = 0, nbx: int = 0) -> PathwayResult:
        return PathwayResult(pathway, base, nb, nbx, empty, empty, np.zeros(0, np.int64), None, 0, 0,
                             n_sweeps, reason)

    if ref_phase is None:
        return none("no baseline phase")
    in_base = cnt & (ph == ref_phase)
    n_settle = 0
    if baseline_from_s is not None:
        n_settle = int(np.sum(in_base & (t < baseline_from_s)))
        in_base &= t >= baseline_from_s
    if settings.baseline_min is not None:
        b_end = baseline_end_s if baseline_end_s is not None else (float(t[in_base].max()) if in_base.any() else end_s)
        in_base &= t >= b_end - settings.baseline_min * 60.0
    nb, nbx = int(np.sum(in_base & ok)), int(np.sum(in_base & ~ok))
    if nb == 0:
        why = (f"; the {n_settle} baseline points before the windows change are left out (auto windows: "
               "lengthen the baseline or set [analysis] auto_windows = false)" if n_settle and not nbx else "")
        return none(f"no valid baseline sweeps ({nbx} invalid){why}", None, nb, nbx)
    base = float(np.mean(y[in_base & ok]))
    sd = float(np.std(y[in_base & ok], ddof=1)) if nb > 1 else None
    if base == 0.0 or not math.isfinite(base):
        return none("baseline mean is zero (no response)", base, nb, nbx)
    tt, pp = _average(t[ok], percent_of(y[ok], base), int(settings.average_n))
    sw_tc = sw[ok] if int(settings.average_n) <= 1 else np.full(tt.shape, -1, np.int64)
    window_s = settings.window_min * 60.0
    late = cnt & (t >= end_s - window_s) & (t <= end_s) & (ph > ref_phase)
    warn: list[str] = []
    n_other = 0
    if intensity_uA is not None and not settings.any_intensity:
        uA = np.asarray(intensity_uA, dtype=np.float64)
        base_uA = float(uA[in_base & ok][-1])
        other = late & ok & ~np.isclose(uA, base_uA, rtol=0.0, atol=1e-6)
        n_other = int(np.sum(other))
        if n_other:
            found = ", ".join(f"{v:g}" for v in np.unique(uA[other]))
            warn.append(f"intensity changed after the baseline: {n_other} sweeps at {found} µA instead of "
                        f"{base_uA:g} µA left out of the result")
        late &= ~other
    nu, nx = int(np.sum(late & ok)), int(np.sum(late & ~ok))
    mag, reason = None, ""
    if nu:
        mag = float(np.mean(y[late & ok]) / base * 100.0)
    else:
        reason = f"no valid test sweeps in the last {settings.window_min:g} min after the baseline"
        if n_other:
            reason += " at the baseline intensity"
    return PathwayResult(pathway, base, nb, nbx, tt / 60.0, pp, sw_tc, mag, nu, nx, n_sweeps, reason, n_other,
                         tuple(warn), n_settle, sd)


def undelivered_reason(rec: RecordingLike) -> str:
    """Why the recording has no result although it planned an electrical induction ("" when its
    inductions delivered pulses, or it planned none): each induction delivered 0 pulses."""
    planned = [p for p in rec.phases if str(p["kind"]) == "induction"]
    if not planned:
        return ""
    from rig.core import events as ev  # (here: `rig analyze` of an ABF file never loads the vocabulary)

    ind = [e for e in getattr(rec, "typed_events", ()) if isinstance(e, ev.Induction)]
    if any(e.delivered > 0 for e in ind):
        return ""
    said = "; ".join(f"{e.protocol} {e.delivered} of {e.planned} pulses ({e.status or 'not delivered'})" for e in ind)
    return "no induction delivered" + (f": {said}" if said else " (the run never reached it)")


def _phase_end_s(rec: RecordingLike, index: int | None, end_s: float) -> float | None:
    if index is None:
        return None
    later = [p["start_sample"] for p in rec.phases if p["index"] > index]
    return float(min(later)) / rec.sample_rate_hz if later else end_s


def last_windows_change_s(rec: RecordingLike, before_s: float | None, pathway: int | None = None) -> float | None:
    """Time (s) of the last ``windows`` event before ``before_s`` that changed ``pathway``'s windows
    (an event without a pathway changed every pathway's; ``pathway`` None: any event; None: none)."""
    if before_s is None:
        return None
    from rig.core import events as ev

    fs = float(rec.sample_rate_hz)
    t = [e.sample / fs for e in getattr(rec, "typed_events", ()) if isinstance(e, ev.WindowsChanged)
         and (pathway is None or e.pathway is None or e.pathway == pathway)]
    t = [x for x in t if x < before_s]
    return max(t) if t else None


def recording_pathways(rec: RecordingLike) -> list[int]:
    """Pathways of the recording (its ``pathways`` attribute; [0] when absent)."""
    return sorted({int(p) for p in np.asarray(rec.attrs.get("pathways", [0])).ravel()})


def compute(rec: RecordingLike, settings: Settings = Settings(), *, end_s: float | None = None,
            pathways: Sequence[int] | None = None, averaged: bool = False) -> Result:
    """The result of a recording (rig.storage.Recording). ``end_s``: end of the magnitude window
    (s, default the end of the recording). ``averaged``: from the averaged measurements (format ≥ 1.4,
    ``rec.averaged``: each a point at its last sweep) instead of the single sweeps, never both."""
    fs = float(rec.sample_rate_hz)
    end = float(rec.duration_s if end_s is None else end_s)
    ref = reference_baseline_phase((int(p["index"]), str(p["kind"])) for p in rec.phases)
    m = rec.averaged if averaged else rec.measurements
    if settings.field not in (m.dtype.names or ()):
        raise ValueError(f"no measurement field {settings.field!r} (have {', '.join(m.dtype.names or ())})")
    m = m[m["pulse"] == 0]
    verify = getattr(rec, "verify", None)  # a stored recording: sweeps whose CRC-32 fails are not data
    damaged = np.asarray(verify() if callable(verify) else [], dtype=np.int64)
    hit = np.isin(m["sweep_index"], damaged)
    lost = {int(pw): int(np.sum(hit & (m["pathway"] == pw))) for pw in np.unique(m["pathway"][hit])}
    m = m[~hit]
    kinds = rec.sweep_table["kind"][m["sweep_index"]] if len(m) else np.array([], dtype="S16")
    want = np.isin(kinds, [k.encode() for k in RESULT_SWEEP_KINDS])
    m = m[want]
    b_end = _phase_end_s(rec, ref, end)
    nothing = undelivered_reason(rec)
    uA_all = np.asarray(rec.sweep_table["intensity_uA"], dtype=np.float64)
    out: dict[int, PathwayResult] = {}
    for pw in (recording_pathways(rec) if pathways is None else sorted(pathways)):
        mine = m[m["pathway"] == pw]
        r = pathway_result(pw, mine["sample"] / fs, mine[settings.field], mine["flags"], mine["phase"],
                           ref, end, settings, sweep=mine["sweep_index"], baseline_end_s=b_end,
                           intensity_uA=uA_all[mine["sweep_index"]],
                           baseline_from_s=last_windows_change_s(rec, b_end, pw))
        if lost.get(pw):
            r = replace(r, warnings=(*r.warnings, f"{lost[pw]} damaged sweeps (CRC-32 fails) left out"))
        out[pw] = replace(r, magnitude_percent=None, reason=nothing) if nothing else r
    return Result(settings, ref, end, out)
