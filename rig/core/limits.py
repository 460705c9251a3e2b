"""The rig's stimulus limits and wiring as plain data, and the checks of a stimulus against them.

Pure Python (no numpy): ``rig check`` validates a protocol with them without loading numpy;
:mod:`rig.stimulus` (the renderer) re-exports them and checks every block again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rig.core.errors import StimulusLimitError
from rig.core.plan import Stimulus


@dataclass(frozen=True)
class StimLimits:
    """The rig's hard limits (from the rig file)."""

    max_intensity_uA: float = 1000.0
    max_width_us: float = 1000.0
    max_frequency_hz: float = 200.0
    max_train_s: float = 5.0
    max_charge_uC: float = 1.0  # per phase of a pulse


@dataclass(frozen=True)
class OutputMap:
    """Wiring: which AO channel (and optional TTL line) stimulates each pathway.

    ``ao_for_pathway[p]`` is None for a TTL-only pathway (the isolator's intensity is set by hand);
    ``uA_per_V`` and ``trigger_line_for_pathway`` are indexed by pathway.
    """

    ao_for_pathway: tuple[int | None, ...]
    uA_per_V: tuple[float, ...]
    n_ao: int
    n_do: int
    trigger_line_for_pathway: tuple[int | None, ...] = ()
    ao_limit_V: float = 10.0


class LimitExceeded(StimulusLimitError):
    """A limit broken by a stimulus; ``quantity`` names it: intensity | width | charge | overlap |
    frequency | train."""

    def __init__(self, quantity: str, message: str) -> None:
        super().__init__(message)
        self.quantity = quantity


def stimulus_problems(stim: Stimulus, intensity_uA: float, fs: float, limits: StimLimits) -> list[LimitExceeded]:
    """Every rig limit ``stim`` at ``intensity_uA`` breaks (empty when it is safe)."""
    out = []
    width_us = stim.width_samples / fs * 1e6
    if not math.isfinite(intensity_uA) or abs(intensity_uA) > limits.max_intensity_uA:
        out.append(LimitExceeded(
            "intensity", f"intensity {intensity_uA:g} µA exceeds the rig limit of {limits.max_intensity_uA:g} µA"))
    if stim.width_samples < 1 or width_us > limits.max_width_us + 1e-9:
        out.append(LimitExceeded("width", f"pulse width {width_us:.0f} µs outside 1 sample.."
                                          f"{limits.max_width_us:g} µs"))
    charge_uC = abs(intensity_uA) * width_us * 1e-6
    if not charge_uC <= limits.max_charge_uC + 1e-12:
        out.append(LimitExceeded("charge", f"charge {charge_uC:.4g} µC per pulse phase ({intensity_uA:g} µA × "
                                           f"{width_us:.0f} µs) exceeds the rig limit of {limits.max_charge_uC:g} µC"))
    if stim.n_pulses > 1:
        offs = [int(o) for o in stim.pulse_offsets]
        isi = [b - a for a, b in zip(offs, offs[1:], strict=False)]
        if any(d <= stim.width_samples * (2 if stim.biphasic else 1) for d in isi):
            out.append(LimitExceeded("overlap", "pulses of a train overlap (interval not longer than the pulse)"))
        pos = [d for d in isi if d > 0]
        if pos and fs / min(pos) > limits.max_frequency_hz + 1e-9:
            out.append(LimitExceeded("frequency", f"pulse frequency {fs / min(pos):.4g} Hz exceeds the rig limit of "
                                                  f"{limits.max_frequency_hz:g} Hz"))
        train_s = stim.pulse_offsets[-1] / fs
        if train_s > limits.max_train_s + 1e-9:
            out.append(LimitExceeded("train", f"train of {train_s:.4g} s exceeds the rig limit of "
                                              f"{limits.max_train_s:g} s"))
    return out


def check_stimulus(stim: Stimulus, intensity_uA: float, fs: float, limits: StimLimits) -> None:
    """Raise :class:`LimitExceeded` (the first problem) if ``stim`` breaks a rig limit."""
    problems = stimulus_problems(stim, intensity_uA, fs, limits)
    if problems:
        raise problems[0]


def check_spacing(onsets: Sequence[int], pulse_samples: int, fs: float, limits: StimLimits) -> None:
    """Pulses of *different* stimuli on one output: no overlap, no faster than the frequency limit.

    ``onsets`` are absolute pulse onsets (samples) on one output, ``pulse_samples`` the length of
    one pulse including a biphasic second phase.
    """
    if len(onsets) < 2:
        return
    s = sorted(int(k) for k in onsets)
    d = min(b - a for a, b in zip(s, s[1:], strict=False))
    if d <= pulse_samples:
        raise LimitExceeded("overlap", "pulses of different stimuli overlap on one output")
    if fs / d > limits.max_frequency_hz + 1e-9:
        raise LimitExceeded("frequency", f"pulse frequency {fs / d:.4g} Hz (pulses {d / fs * 1e3:.4g} ms "
                                         f"apart) exceeds the rig limit of {limits.max_frequency_hz:g} Hz")
