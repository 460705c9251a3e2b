"""Render scheduled stimuli into output samples, sample-exact (pure functions of arrays).

Pulse k of a stimulus starts at absolute sample ``stim.sample + stim.pulse_offsets[k]``; the
isolator command is ``intensity_uA / uA_per_V`` volts for ``width_samples`` samples (a biphasic
pulse adds an equal and opposite phase: zero net charge). Every block starts and ends from 0 V
between pulses. Limits are checked here again, whatever the caller validated before.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rig.core.limits import (  # noqa: F401 - the limits live in rig.core.limits (numpy-free: rig check)
    LimitExceeded,
    OutputMap,
    StimLimits,
    check_spacing,
    check_stimulus,
    stimulus_problems,
)
from rig.core.plan import Stimulus, ValveChange


def render_block(
    start: int,
    n: int,
    stimuli: Iterable[tuple[Stimulus, float]],
    valve_changes: Iterable[ValveChange],
    do_state: np.ndarray,
    wiring: OutputMap,
    fs: float,
    limits: StimLimits,
) -> tuple[np.ndarray, np.ndarray]:
    """AO volts (n_ao, n) and DO (n_do, n) for samples [start, start + n).

    ``stimuli`` are absolute-time stimuli with their resolved intensity (µA); ``valve_changes``
    absolute DO changes; ``do_state`` the DO levels just before ``start`` (updated in place).
    """
    ao = np.zeros((wiring.n_ao, n))
    do = np.repeat(do_state[:, None], n, axis=1).astype(np.uint8) if wiring.n_do else np.zeros((0, n), np.uint8)
    end = start + n
    stimuli = list(stimuli)
    onsets: dict[int, list[int]] = {}
    widths: dict[int, int] = {}
    for stim, intensity in stimuli:
        check_stimulus(stim, intensity, fs, limits)
        onsets.setdefault(stim.pathway, []).extend(stim.sample + o for o in stim.pulse_offsets)
        widths[stim.pathway] = max(widths.get(stim.pathway, 0), stim.width_samples * (2 if stim.biphasic else 1))
    for pw, on in onsets.items():
        check_spacing(np.asarray(on, dtype=np.int64), widths[pw], fs, limits)
    for stim, intensity in stimuli:
        ch = wiring.ao_for_pathway[stim.pathway]
        volts = intensity / wiring.uA_per_V[stim.pathway]
        if abs(volts) > wiring.ao_limit_V:
            raise LimitExceeded("intensity", f"{intensity} µA needs {volts:.2f} V, beyond the AO range")
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
