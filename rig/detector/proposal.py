"""Propose analysis windows from the average of the first N sweeps of a pathway.

The landmarks and the placement rule are in :mod:`rig.detector.landmarks`; this module averages
sweeps aligned on their stimulus and wraps the placement as an :class:`AutoWindows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rig.detector.landmarks import place_windows
from rig.detector.measurement import Windows


@dataclass(frozen=True)
class AutoWindows:
    windows: Windows
    ok: bool
    message: str = ""
    landmarks_ms: dict[str, float] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)


def average_sweeps(sweeps_mV: list[np.ndarray] | np.ndarray, stim_indices, n_first: int = 10):
    """Average the first ``n_first`` sweeps aligned on their stimulus: (trace, stim_index)."""
    sweeps = [np.asarray(s, dtype=np.float64) for s in list(sweeps_mV)[:n_first]]
    stims = np.broadcast_to(np.asarray(stim_indices, dtype=np.int64), (len(list(sweeps_mV)),))
    stims = stims[: len(sweeps)]
    if not sweeps:
        raise ValueError("no sweeps to average")
    pre = int(min(stims))
    post = int(min(len(s) - st for s, st in zip(sweeps, stims, strict=True)))
    if post <= 0:
        raise ValueError("stimulus outside the sweeps")
    stack = np.stack([s[st - pre : st + post] for s, st in zip(sweeps, stims, strict=True)])
    return stack.mean(axis=0), pre


def propose_windows(
    trace_mV: np.ndarray,
    stim_index: int,
    fs_hz: float,
    base: Windows | None = None,
    slope_rise_fraction: float = 0.6,
    from_onset: bool = False,
) -> AutoWindows:
    """Windows for an (averaged) sweep from its landmarks (:func:`rig.detector.landmarks.place_windows`);
    ``ok=False`` (keep ``base``, or warn) when a window cannot be placed with confidence."""
    pl = place_windows(trace_mV, stim_index, fs_hz, base, slope_rise_fraction, from_onset)
    return AutoWindows(pl.windows, pl.ok, pl.message, pl.landmarks_ms, pl.confidence, pl.reasons)
