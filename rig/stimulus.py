"""Render scheduled stimuli into output samples, sample-exact (pure functions of arrays).

Pulse k of a stimulus starts at absolute sample ``stim.sample + stim.pulse_offsets[k]``; the
isolator command is ``intensity_uA / uA_per_V`` volts for ``width_samples`` samples (a biphasic
pulse adds an equal and opposite phase: zero net charge). Every block starts and ends from 0 V
between pulses. Limits are checked here again, whatever the caller validated before.

The limit checks are plain Python (``rig check`` uses them without loading numpy); only
:func:`render_block` needs numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from rig.core.errors import StimulusLimitError
from rig.core.plan import Stimulus, ValveChange

if TYPE_CHECKING:
    import numpy as np


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
    ao_range_V_for_pathway: tuple[float, ...] = ()  # each pathway's AO range ± V (rig file ``ao_range_V``)

    def ao_range_V(self, pathway: int) -> float:
        """The largest command (V) pathway ``pathway``'s AO channel may get."""
        r = self.ao_range_V_for_pathway
        return min(self.ao_limit_V, r[pathway]) if 0 <= pathway < len(r) else self.ao_limit_V


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
        isi = [b - a for a, b in pairwise(stim.pulse_offsets)]
        pulse = stim.width_samples * (2 if stim.biphasic else 1)
        if any(d <= pulse for d in isi):
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
    d_min = min(b - a for a, b in pairwise(sorted(onsets)))
    if d_min <= pulse_samples:
        raise LimitExceeded("overlap", "pulses of different stimuli overlap on one output")
    if fs / d_min > limits.max_frequency_hz + 1e-9:
        raise LimitExceeded("frequency", f"pulse frequency {fs / d_min:.4g} Hz (pulses {d_min / fs * 1e3:.4g} ms "
                                         f"apart) exceeds the rig limit of {limits.max_frequency_hz:g} Hz")


def render_block(
    start: int,
    n: int,
    stimuli: Iterable[tuple[Stimulus, float]],
    valve_changes: Iterable[ValveChange],
    do_state: np.ndarray,
    wiring: OutputMap,
    fs: float,
    limits: StimLimits,
    lazy: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """AO volts (n_ao, n) and DO (n_do, n) for samples [start, start + n).

    ``stimuli`` are absolute-time stimuli with their resolved intensity (µA); ``valve_changes``
    absolute DO changes; ``do_state`` the DO levels just before ``start`` (updated in place).
    ``lazy``: a block that no stimulus and no valve change touches comes back as read-only
    broadcast views (0 V, DO held), the same samples without the memory.
    """
    import numpy as np

    stimuli = list(stimuli)
    valve_changes = list(valve_changes)
    if lazy and not stimuli and all(vc.sample >= start + n for vc in valve_changes):
        return (np.broadcast_to(np.zeros((wiring.n_ao, 1)), (wiring.n_ao, n)),
                np.broadcast_to(do_state.astype(np.uint8)[:, None], (wiring.n_do, n)))
    ao = np.zeros((wiring.n_ao, n))
    do = np.repeat(do_state[:, None], n, axis=1).astype(np.uint8) if wiring.n_do else np.zeros((0, n), np.uint8)
    end = start + n
    onsets: dict[int, list[int]] = {}
    widths: dict[int, int] = {}
    for stim, intensity in stimuli:
        check_stimulus(stim, intensity, fs, limits)
        onsets.setdefault(stim.pathway, []).extend(stim.sample + o for o in stim.pulse_offsets)
        widths[stim.pathway] = max(widths.get(stim.pathway, 0), stim.width_samples * (2 if stim.biphasic else 1))
    for pw, on in onsets.items():
        check_spacing(on, widths[pw], fs, limits)
    for stim, intensity in stimuli:
        ch = wiring.ao_for_pathway[stim.pathway]
        volts = intensity / wiring.uA_per_V[stim.pathway]
        if abs(volts) > wiring.ao_range_V(stim.pathway) * (1 + 1e-9):
            raise LimitExceeded("intensity", f"{intensity} µA needs {volts:.2f} V, beyond the AO range "
                                f"±{wiring.ao_range_V(stim.pathway):g} V")
        trig = (
            wiring.trigger_line_for_pathway[stim.pathway]
            if stim.pathway < len(wiring.trigger_line_for_pathway)
            else None
        )
        w = stim.width_samples
        for off in stim.pulse_offsets:
            p0 = stim.sample + off
            phases = ((p0, volts),) + (((p0 + w, -volts),) if stim.biphasic else ())
            for s0, v in phases:
                a, b = max(s0, start), min(s0 + w, end)
                if a < b and ch is not None:
                    ao[ch, a - start : b - start] = v
            if trig is not None:
                a, b = max(p0, start), min(p0 + w * (2 if stim.biphasic else 1), end)
                if a < b:
                    do[trig, a - start : b - start] = 1
    for vc in sorted(valve_changes, key=lambda v: v.sample):
        if start <= vc.sample < end:
            do[vc.line, vc.sample - start :] = vc.state
            do_state[vc.line] = vc.state
        elif vc.sample < start:
            do[vc.line, :] = vc.state
            do_state[vc.line] = vc.state
    return ao, do
