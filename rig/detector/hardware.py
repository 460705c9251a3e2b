"""Measuring the rig's own signals: the amplifier's gain telegraph and the isolator's monitor.

Pure functions of arrays (:func:`telegraph_gain`, :func:`monitor_pulses`) and :class:`WiringCheck`,
which the engine calls once per measured sweep: it returns the gain to scale the field channel
with, the current the isolator delivered, and the events of anything that does not match the
rig file (a turned gain knob, a range switch on ×10, an open electrode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rig.core import events as ev
from rig.core.wiring import Monitor, Telegraph, WiringChecks

ALARM_PHASES = ("baseline", "follow_up")  # a gain change here is an alarm, elsewhere an event only


def telegraph_gain(volts: float, table: tuple[tuple[float, float], ...], tolerance_V: float) -> float | None:
    """The gain of the table entry nearest ``volts``, None when none lies within ``tolerance_V``."""
    if not math.isfinite(volts) or not table:
        return None
    v, g = min(table, key=lambda e: abs(e[0] - volts))
    return float(g) if abs(v - volts) <= tolerance_V else None


def monitor_pulses(mon_V: np.ndarray, pulse_idx: np.ndarray, width_samples: int, uA_per_V: float,
                   fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Peak current (µA) and charge (nC) of the leading phase of each pulse on a monitor trace.

    The baseline is the median before the first pulse (0 V without one). Each pulse is read over
    its width plus one sample (a board may convert AI sample *k* before the AO update of the same
    edge settles); only samples of the leading phase's sign count, so the opposite phase of a
    biphasic pulse never adds to it.
    """
    mon = np.asarray(mon_V, dtype=np.float64)
    first = int(pulse_idx[0]) if len(pulse_idx) else 0
    base = float(np.median(mon[:first])) if first > 0 else 0.0
    peaks = np.full(len(pulse_idx), np.nan)
    charges = np.full(len(pulse_idx), np.nan)
    for k, i in enumerate(np.asarray(pulse_idx, dtype=np.int64)):
        seg = mon[max(i, 0): min(i + width_samples + 1, mon.size)] - base
        if seg.size == 0:
            continue
        sign = 1.0 if seg[np.argmax(np.abs(seg))] >= 0 else -1.0
        lead = np.clip(sign * seg, 0.0, None) * uA_per_V  # µA
        peaks[k] = float(lead.max())
        charges[k] = float(lead.sum() / fs * 1e3)  # µA·s = µC → nC
    return peaks, charges


@dataclass
class SweepWiring:
    """What the wiring says about one sweep."""

    gain: float = math.nan  # field amplifier gain used for this sweep (V/V)
    mV_per_count: float | None = None  # the field channel's scale for this sweep (None: the fixed one)
    delivered_uA: float = math.nan  # median peak current of its pulses on the monitor
    delivered_nC: float = math.nan  # median charge per pulse (leading phase)
    monitor_pulses: int = -1  # pulses seen on the monitor (≥ 50 % of the command); -1: no monitor
    events: list = field(default_factory=list)
    alarms: list[tuple[str, int | None, str, dict]] = field(default_factory=list)  # (alarm, pathway, text, data)


class WiringCheck:
    """Per-sweep gain telegraph reading and isolator-monitor measurement (state: the last gain)."""

    def __init__(self, checks: WiringChecks, lsb_V: np.ndarray, fs: float, nominal_gain: float | None) -> None:
        self.checks = checks
        self.lsb_V = np.asarray(lsb_V, dtype=np.float64)
        self.fs = float(fs)
        self.nominal_gain = nominal_gain  # the fixed scale's gain: used until the telegraph is first read
        self.last_gain: float | None = None
        self._mismatched: set[int] = set()  # pathways in mismatch: reported once until it clears

    def intensity_uA(self, pathway: int, commanded_uA: float) -> float:
        """The current delivered: a TTL-only isolator's front-panel µA, else the commanded one."""
        panel = self.checks.panel_of(pathway)
        return panel[0] if panel else commanded_uA

    def width_samples(self, pathway: int, commanded: int) -> int:
        """The pulse width delivered: a TTL-only isolator's front-panel width, else the commanded one."""
        panel = self.checks.panel_of(pathway)
        return max(1, round(panel[1] * 1e-6 * self.fs)) if panel else commanded

    @property
    def active(self) -> bool:
        return self.checks.telegraph is not None or bool(self.checks.monitors)

    def on_sweep(self, counts: np.ndarray, first: int, sample: int, pulses: np.ndarray, width_samples: int,
                 pathway: int, intensity_uA: float, phase_kind: str) -> SweepWiring:
        """``counts`` (n_ai, n) of the sweep starting at absolute ``first``; ``pulses`` absolute onsets."""
        out = SweepWiring()
        tel = self.checks.telegraph
        if tel is not None:
            self._gain(out, tel, counts, sample, phase_kind)
        mon = self.checks.monitor_of(pathway)
        if mon is not None and len(pulses):
            self._monitor(out, mon, counts, np.asarray(pulses) - first, width_samples, intensity_uA, sample)
        return out

    def _gain(self, out: SweepWiring, tel: Telegraph, counts: np.ndarray, sample: int, phase_kind: str) -> None:
        volts = float(np.median(counts[tel.channel])) * float(self.lsb_V[tel.channel])
        gain = telegraph_gain(volts, tel.table, tel.tolerance_V)
        if gain is None:
            used = next((g for g in (self.last_gain, self.nominal_gain) if g is not None), math.nan)
            out.events.append(ev.TelegraphUnreadable(
                sample=sample, text=f"gain telegraph reads {volts:.3f} V: no entry of the rig file's table "
                f"within ±{tel.tolerance_V:g} V; scaled with gain {used:g}",
                channel=tel.channel, telegraph_V=round(volts, 4), gain_used=used))
            gain = used
        elif self.last_gain is not None and gain != self.last_gain:
            prev = self.last_gain
            text = f"amplifier gain {prev:g} → {gain:g} (telegraph {volts:.2f} V) during the {phase_kind or 'run'}"
            out.events.append(ev.GainChanged(sample=sample, text=text, channel=tel.field_channel, gain=gain,
                                             previous=prev, phase_kind=phase_kind))
            if phase_kind in ALARM_PHASES:
                out.alarms.append(("gain_change", None, text, {"gain": gain, "previous": prev}))
        if math.isfinite(gain):
            self.last_gain = gain
            out.gain = gain
            out.mV_per_count = float(self.lsb_V[tel.field_channel]) * 1000.0 / gain

    def _monitor(self, out: SweepWiring, mon: Monitor, counts: np.ndarray, idx: np.ndarray, width: int,
                 intensity_uA: float, sample: int) -> None:
        volts = counts[mon.channel].astype(np.float64) * float(self.lsb_V[mon.channel])
        peaks, charges = monitor_pulses(volts, idx, width, mon.uA_per_V, self.fs)
        ok = np.isfinite(peaks)
        if not ok.any():
            return
        out.delivered_uA = float(np.median(peaks[ok]))
        out.delivered_nC = float(np.median(charges[ok]))
        out.monitor_pulses = int(np.sum(peaks[ok] >= 0.5 * abs(intensity_uA))) if intensity_uA else 0
        cmd = abs(float(intensity_uA))
        if cmd <= 0:
            return
        err = (out.delivered_uA - cmd) / cmd * 100.0
        if abs(err) <= mon.tolerance_percent:
            self._mismatched.discard(mon.pathway)
        elif mon.pathway not in self._mismatched:
            self._mismatched.add(mon.pathway)
            rail = float(np.abs(volts).max()) >= 32767 * float(self.lsb_V[mon.channel]) * 0.999
            at = "≥ " if rail else ""  # the monitor clipped at the ADC range: a lower bound
            text = (f"S{mon.pathway + 1}: isolator monitor {at}{out.delivered_uA:.0f} µA, command {cmd:g} µA "
                    f"({err:+.0f} %, tolerance ±{mon.tolerance_percent:g} %): range switch or electrode?")
            data = {"commanded_uA": cmd, "delivered_uA": round(out.delivered_uA, 2), "error_percent": round(err, 1),
                    "monitor_clipped": rail}
            out.events.append(ev.StimulusMismatch(sample=sample, text=text, pathway=mon.pathway,
                                                  tolerance_percent=mon.tolerance_percent,
                                                  extra={"monitor_clipped": rail},
                                                  **{k: v for k, v in data.items() if k != "monitor_clipped"}))
            out.alarms.append(("stimulus_mismatch", mon.pathway, text, data))
