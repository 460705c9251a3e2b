"""`rig selftest --resistor-kohm R`: the isolator's µA/V measured into a known resistor.

The slice electrodes are replaced by a resistor of ``R`` kΩ across the isolator's output (the
procedure of ``docs/hardware.md``). The engine sends small pulses through the rig's wiring and
limits exactly as in a run (:func:`rig.experiment.selftest.acquire`); the isolator's current
monitor reads the current that flowed. Per pulse: peak current (µA, leading phase, baseline = the
median before the pulse in its sweep); measured µA/V = median peak / command volts, compared with
the rig file's ``uA_per_V`` within a stated tolerance. A range switch on ×10 reads 10× the rig
file; an open circuit (no resistor, a broken lead) reads no current.

The resistor bounds the test current: I·R stays below ``compliance_V`` (what the isolator can
drive), and the expected voltage across it (V = I·R) is reported for a scope cross-check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rig.core.errors import UserError
from rig.detector.hardware import monitor_pulses
from rig.experiment.selftest import Acquired

DEFAULT_TEST_uA = 100.0
DEFAULT_WIDTH_us = 1000.0
DEFAULT_TOLERANCE_PERCENT = 5.0  # a 1 % resistor and an isolator accurate to a few %
DEFAULT_COMPLIANCE_V = 10.0


@dataclass(frozen=True)
class ResistorPulse:
    """The test pulse for one pathway: ``current_uA`` = ``amplitude_V`` × the rig's µA/V."""

    pathway: int
    current_uA: float
    amplitude_V: float
    width_us: float


def resistor_pulse(rig: Any, pathway: int, resistor_kohm: float, *, current_uA: float | None = None,
                   compliance_V: float = DEFAULT_COMPLIANCE_V) -> ResistorPulse:
    """A small pulse within the rig's limits, the monitor's input range and the isolator's
    compliance into ``resistor_kohm`` (UserError naming the bound it cannot meet)."""
    s = rig.stim[pathway]
    lim = rig.limits
    mon = monitor_ai(rig, pathway)
    width = min(DEFAULT_WIDTH_us, lim.max_width_us)
    bounds = {
        "the rig's max_intensity_uA / 4": lim.max_intensity_uA / 4,
        f"the compliance {compliance_V:g} V into {resistor_kohm:g} kΩ": compliance_V / resistor_kohm * 1e3,
        f"80 % of the monitor's ±{mon.range_V:g} V": 0.8 * mon.range_V * mon.monitor_uA_per_V,
        "the ±10 V AO range": 10.0 * s.uA_per_V,
        f"max_charge_uC over {width:g} µs": lim.max_charge_uC / (width * 1e-6),
    }
    if current_uA is None:
        current_uA = min(DEFAULT_TEST_uA, *bounds.values())
    else:
        for what, hi in bounds.items():
            if current_uA > hi:
                raise UserError(f"--current-uA: {current_uA:g} µA exceeds {what} ({hi:.4g} µA)")
    if current_uA <= 0:
        raise UserError("--current-uA must be > 0")
    return ResistorPulse(pathway, float(current_uA), float(current_uA) / s.uA_per_V, width)


def monitor_ai(rig: Any, pathway: int) -> Any:
    """The ``[[ai]]`` of kind monitor for ``pathway`` (UserError when none is wired)."""
    name = rig.stim[pathway].pathway
    mon = next((a for a in rig.ai if a.kind == "monitor" and a.pathway == name), None)
    if mon is None:
        raise UserError(f"--resistor-kohm: pathway {name} has no current monitor (an [[ai]] with "
                        f"kind = \"monitor\", pathway = \"{name}\"): the µA/V check reads it")
    if rig.stim[pathway].ttl_only:
        raise UserError(f"--resistor-kohm: pathway {name} is TTL-only (current set on the isolator's "
                        "front panel): the µA/V check needs an analog command ('ao')")
    return mon


@dataclass(frozen=True)
class ResistorCheck:
    """The µA/V of one isolator as measured on its current monitor."""

    pathway: str
    monitor: str
    resistor_kohm: float
    commanded_uA: float
    amplitude_V: float
    width_us: float
    rig_uA_per_V: float
    tolerance_percent: float
    pulses: int
    pulses_seen: int
    measured_uA: float | None
    measured_uA_per_V: float | None
    error_percent: float | None
    across_resistor_V: float | None
    monitor_at_range: bool
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        head = f"selftest {'PASSED' if self.passed else 'FAILED'}: {self.pathway} µA/V into {self.resistor_kohm:g} kΩ"
        cmd = (f"{self.commanded_uA:g} µA commanded ({self.amplitude_V:.4g} V × {self.rig_uA_per_V:g} µA/V, "
               f"{self.width_us:g} µs)")
        if self.measured_uA_per_V is None or self.pulses_seen == 0:
            return (f"{head}: no current on {self.monitor} for {cmd} — is the resistor across the isolator's "
                    f"output (an open circuit carries none) and its monitor wired to {self.monitor}?")
        bound = " (monitor at its ADC range: a lower bound)" if self.monitor_at_range else ""
        return (f"{head}: {self.measured_uA_per_V:.4g} µA/V measured, rig file uA_per_V {self.rig_uA_per_V:g} "
                f"({self.error_percent:+.1f} %, tolerance ±{self.tolerance_percent:g} %); {cmd} read "
                f"{self.measured_uA:.4g} µA on {self.monitor}{bound}, {self.pulses_seen}/{self.pulses} pulses; "
                f"{self.across_resistor_V:.3g} V across the resistor")


def resistor_check(rig: Any, pulse: ResistorPulse, acq: Acquired, resistor_kohm: float,
                   tolerance_percent: float = DEFAULT_TOLERANCE_PERCENT) -> ResistorCheck:
    """Peak current of every test pulse on the pathway's monitor in ``acq`` → measured µA/V."""
    s = rig.stim[pulse.pathway]
    mon = monitor_ai(rig, pulse.pathway)
    ch = [a.name for a in rig.ai].index(mon.name)
    trace = acq.signal[ch]
    peaks, peak_V = [], []
    for k in acq.onsets:
        lo, hi = k - acq.pre_samples, k + acq.width_samples + 2
        if lo < 0 or hi > trace.size or not acq.valid[lo:hi].all():
            continue
        seg = trace[lo:hi]
        uA, _ = monitor_pulses(seg, np.array([acq.pre_samples]), acq.width_samples, mon.monitor_uA_per_V, acq.fs)
        peaks.append(float(uA[0]))
        peak_V.append(float(np.abs(seg).max()))
    seen = [p for p in peaks if p >= 0.05 * pulse.current_uA]  # 5 % of the command: not noise
    measured = float(np.median(seen)) if seen else None
    per_V = measured / pulse.amplitude_V if measured is not None else None
    err = (per_V / s.uA_per_V - 1.0) * 100.0 if per_V is not None else None
    at_range = bool(peak_V) and max(peak_V) >= 0.99 * mon.range_V
    passed = (err is not None and len(seen) == len(acq.onsets) and abs(err) <= tolerance_percent
              and not at_range)
    return ResistorCheck(
        pathway=s.pathway, monitor=mon.name, resistor_kohm=resistor_kohm, commanded_uA=pulse.current_uA,
        amplitude_V=pulse.amplitude_V, width_us=pulse.width_us, rig_uA_per_V=s.uA_per_V,
        tolerance_percent=tolerance_percent, pulses=len(acq.onsets), pulses_seen=len(seen), measured_uA=measured,
        measured_uA_per_V=per_V, error_percent=err,
        across_resistor_V=measured * resistor_kohm * 1e-3 if measured is not None else None,
        monitor_at_range=at_range, passed=passed,
    )


class ResistorLoad:
    """The simulated resistor in place of the slice: the field inputs see no response (the
    electrodes are disconnected); the wired rig's monitors read the current it carries."""

    def __init__(self, n_ai: int) -> None:
        self.n_ai = n_ai

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        return np.zeros((self.n_ai, stim_uA.shape[1]))
