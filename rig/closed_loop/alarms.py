"""Alarms on the measured test responses: response lost, noise, saturation, volley change, gaps.

Each alarm fires once when its condition has held for ``sweeps`` consecutive test sweeps of a
pathway (the volley: when the median of the last ``sweeps`` volleys has moved), and re-arms when
the condition clears. References are the medians of the first
``reference_sweeps`` (slope) or 10 (fiber volley) clean test sweeps after the intensity was last
set, so an intensity change never looks like a lost response. Actions: ``continue`` (record only),
``pause`` (stop stimulating; acquisition and storage go on) or ``stop`` (end the run, outputs
zeroed). Settings come from ``Plan.closed_loop["alarms"]``, merged over :data:`DEFAULT_ALARMS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from rig import detector

ACTIONS = ("continue", "pause", "stop")

DEFAULT_ALARMS: dict[str, dict] = {
    # slope magnitude below percent_of_baseline % of the reference (or no response) for N sweeps
    "response_lost": {"enabled": True, "percent_of_baseline": 20.0, "sweeps": 3, "action": "continue"},
    # baseline-window noise (SD) above max_uV µV for N sweeps
    "noise": {"enabled": True, "max_uV": 100.0, "sweeps": 2, "action": "continue"},
    # a clipped sample inside a measurement window for N sweeps
    "saturation": {"enabled": True, "sweeps": 1, "action": "continue"},
    # median fiber volley of the last N sweeps changed by more than percent % of its reference
    # (off unless configured; armed only when the reference volley (median of the first 10 clean
    # sweeps) is ≥ 2 × the baseline noise SD and ≥ 4 × its own spread)
    "volley_change": {"enabled": False, "percent": 40.0, "sweeps": 5, "action": "continue"},
    # samples lost by the acquisition (any gap)
    "gap": {"enabled": True, "action": "continue"},
    # the amplifier's gain telegraph changed during the baseline or the follow-up (values stay
    # true: each sweep is scaled with its own gain; the alarm says the recording conditions moved)
    "gain_change": {"enabled": True, "action": "continue"},
    # the isolator's current monitor disagrees with the command beyond the rig file's tolerance
    # (range switch, open electrode): pause protects the slice from a 10× current
    "stimulus_mismatch": {"enabled": True, "action": "pause"},
    # a scheduled stimulus was not delivered (outputs late after a stall or gap, output underflow):
    # stop by default; with pause or continue the run still ends "incomplete", never "completed"
    "stimulus_missed": {"enabled": True, "action": "stop"},
}
REFERENCE_SWEEPS = 5
VOLLEY_REFERENCE_SWEEPS = 10
_SAT = int(detector.SATURATED)
_NO_RESP = int(detector.NO_RESPONSE)


# the protocol file's flat [alarms] table → (alarm, setting); a None threshold disables the alarm
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "response_lost_percent": ("response_lost", "percent_of_baseline"),
    "response_lost_sweeps": ("response_lost", "sweeps"),
    "response_lost_action": ("response_lost", "action"),
    "noise_max_uV": ("noise", "max_uV"),
    "noise_sweeps": ("noise", "sweeps"),
    "noise_action": ("noise", "action"),
    "volley_change_percent": ("volley_change", "percent"),
    "volley_change_sweeps": ("volley_change", "sweeps"),
    "volley_action": ("volley_change", "action"),
    "volley_change_action": ("volley_change", "action"),
    "saturation_sweeps": ("saturation", "sweeps"),
    "saturation_action": ("saturation", "action"),
    "gap_action": ("gap", "action"),
    "gain_change_action": ("gain_change", "action"),
    "stimulus_mismatch_action": ("stimulus_mismatch", "action"),
    "stimulus_missed_action": ("stimulus_missed", "action"),
}
_THRESHOLDS = {"response_lost_percent", "noise_max_uV", "volley_change_percent"}


def from_flat(flat: dict) -> dict[str, dict]:
    """Nested settings from the protocol file's flat table (``noise_max_uV = 80`` …). In that form
    an alarm with a threshold is on only when its threshold is given."""
    out: dict[str, dict] = {"response_lost": {"enabled": False}, "noise": {"enabled": False},
                            "volley_change": {"enabled": False}}
    for key, value in flat.items():
        if key not in FLAT_KEYS:
            raise ValueError(f"unknown alarm setting {key!r} (known: {', '.join(FLAT_KEYS)})")
        name, field_ = FLAT_KEYS[key]
        if key in _THRESHOLDS:
            out[name]["enabled"] = value is not None
            if value is None:
                continue
        out.setdefault(name, {})[field_] = value
    return out


def merge_settings(user: dict | None) -> dict[str, dict]:
    """DEFAULT_ALARMS overridden per alarm by ``user`` (nested ``{"noise": {"max_uV": 80}}`` or the
    protocol's flat table); raises ValueError on unknown names/actions."""
    out = {k: dict(v) for k, v in DEFAULT_ALARMS.items()}
    if user and any(k in FLAT_KEYS for k in user):
        user = from_flat(user)
    for name, cfg in (user or {}).items():
        if name not in out:
            raise ValueError(f"unknown alarm {name!r} (known: {', '.join(out)})")
        out[name].update(cfg)
        if out[name]["action"] not in ACTIONS:
            raise ValueError(f"alarm {name}: action {out[name]['action']!r} not one of {ACTIONS}")
    return out


@dataclass(frozen=True)
class Alarm:
    name: str
    pathway: int | None
    action: str
    text: str
    data: dict = field(default_factory=dict)


@dataclass
class _PathwayState:
    slopes: list[float] = field(default_factory=list)  # reference candidates
    volleys: list[float] = field(default_factory=list)
    ref_slope: float | None = None
    ref_volley: float | None = None
    recent_volleys: list[float] = field(default_factory=list)
    noises: list[float] = field(default_factory=list)
    volley_done: bool = False  # reference taken (or found unmeasurable)
    counts: dict[str, int] = field(default_factory=dict)
    latched: set[str] = field(default_factory=set)


class AlarmMonitor:
    """Per-pathway alarm state; feed it every test sweep's first-pulse record."""

    def __init__(self, settings: dict | None = None, slope_field: str = "slope_mV_per_ms",
                 reference_sweeps: int = REFERENCE_SWEEPS, name: Callable[[int], str] | None = None) -> None:
        self.cfg = merge_settings(settings)
        self.name = name or (lambda pw: f"S{pw + 1}")
        self.slope_field = slope_field
        self.n_ref = reference_sweeps
        self._pw: dict[int, _PathwayState] = {}

    def _state(self, pathway: int) -> _PathwayState:
        return self._pw.setdefault(pathway, _PathwayState())

    def reset_reference(self, pathway: int) -> None:
        """Forget the references (the test intensity changed)."""
        st = self._state(pathway)
        st.slopes.clear()
        st.volleys.clear()
        st.recent_volleys.clear()
        st.noises.clear()
        st.volley_done = False
        st.ref_slope = st.ref_volley = None

    def _update(self, st: _PathwayState, name: str, cond: bool, pathway: int, text: str, data: dict,
                out: list[Alarm], need: int | None = None) -> None:
        cfg = self.cfg[name]
        if not cfg.get("enabled", True):
            return
        if not cond:
            st.counts[name] = 0
            st.latched.discard(name)
            return
        st.counts[name] = st.counts.get(name, 0) + 1
        if st.counts[name] >= (need or int(cfg.get("sweeps", 1))) and name not in st.latched:
            st.latched.add(name)
            out.append(Alarm(name, pathway, cfg["action"], text, {**data, "sweeps": st.counts[name]}))

    def on_test(self, pathway: int, rec: np.void) -> list[Alarm]:
        """Check one test sweep's record (MEASUREMENT_DTYPE); returns the alarms that fire now."""
        st = self._state(pathway)
        names = rec.dtype.names
        flags = int(rec["flags"])
        slope = float(rec[self.slope_field])
        noise_uV = float(rec["noise_mV"]) * 1000.0
        volley = float(rec["volley_mV"]) if "volley_mV" in names else math.nan
        out: list[Alarm] = []
        # saturation and noise first: they make the other measurements meaningless
        self._update(st, "saturation", bool(flags & _SAT), pathway,
                     f"{self.name(pathway)}: clipped samples in the measurement window", {}, out)
        cfg_n = self.cfg["noise"]
        self._update(st, "noise", noise_uV > float(cfg_n["max_uV"]), pathway,
                     f"{self.name(pathway)}: noise {noise_uV:.0f} µV RMS > {cfg_n['max_uV']:g} µV",
                     {"noise_uV": round(noise_uV, 1)}, out)
        clean = not (flags & _SAT) and noise_uV <= float(cfg_n["max_uV"]) and math.isfinite(slope)
        if clean and not flags & _NO_RESP and not st.volley_done and math.isfinite(volley):
            st.volleys.append(volley)
            st.noises.append(noise_uV / 1000.0)
            if len(st.volleys) >= VOLLEY_REFERENCE_SWEEPS:
                st.volley_done = True
                st.ref_volley = self._volley_reference(st.volleys, st.noises)
        if st.ref_slope is None:
            if clean and not flags & _NO_RESP:
                st.slopes.append(slope)
                if len(st.slopes) >= self.n_ref:
                    st.ref_slope = float(np.median(st.slopes))
            return out
        cfg_r = self.cfg["response_lost"]
        pct = float(cfg_r["percent_of_baseline"])
        rel = slope / st.ref_slope * 100.0 if st.ref_slope else math.nan
        lost = bool(flags & _NO_RESP) or (math.isfinite(rel) and rel < pct)
        if not flags & _SAT:
            why = (f"{rel:.0f} % of reference < {pct:g} %" if math.isfinite(rel) and rel < pct
                   else "no fEPSP found in the measurement window")
            self._update(st, "response_lost", lost, pathway, f"{self.name(pathway)}: response lost ({why})",
                         {"percent_of_reference": None if not math.isfinite(rel) else round(rel, 1)}, out)
        cfg_v = self.cfg["volley_change"]
        if st.ref_volley is not None and math.isfinite(volley) and clean:
            n = int(cfg_v.get("sweeps", 5))
            st.recent_volleys = [*st.recent_volleys[-(n - 1):], volley] if n > 1 else [volley]
            if len(st.recent_volleys) >= n:
                change = (float(np.median(st.recent_volleys)) - st.ref_volley) / abs(st.ref_volley) * 100.0
                self._update(st, "volley_change", abs(change) > float(cfg_v["percent"]), pathway,
                             f"{self.name(pathway)}: fiber volley changed {change:+.0f} % (median of {n} sweeps; "
                             "electrode moved?)", {"change_percent": round(change, 1)}, out, need=1)
        return out

    @staticmethod
    def _volley_reference(volleys: list[float], noises_mV: list[float]) -> float | None:
        """Median volley (mV) of the reference sweeps, or None when the volley is not clearly
        measurable: smaller than 2 × the baseline noise SD, or than 4 × its own spread."""
        v = np.asarray(volleys)
        med = float(np.median(v))
        spread = 1.4826 * float(np.median(np.abs(v - med)))
        noise = float(np.median(noises_mV)) if noises_mV else 0.0
        return med if med < 0.0 and abs(med) >= 4.0 * spread and abs(med) >= 2.0 * noise else None

    def on_wiring(self, name: str, pathway: int | None, text: str, data: dict) -> list[Alarm]:
        """A wiring check failed (``gain_change``, ``stimulus_mismatch``): the alarm, if enabled."""
        cfg = self.cfg[name]
        return [Alarm(name, pathway, cfg["action"], text, dict(data))] if cfg.get("enabled", True) else []

    def on_gap(self, lost_samples: int, fs: float) -> list[Alarm]:
        cfg = self.cfg["gap"]
        if not cfg.get("enabled", True) or lost_samples <= 0:
            return []
        return [Alarm("gap", None, cfg["action"], f"{lost_samples} samples ({lost_samples / fs * 1e3:.0f} ms) lost",
                      {"samples": int(lost_samples)})]
