"""The documents the engine streams to its subscribers (storage, display, controller, progress).

Subscribers are plain callables ``sub(doc)`` called in order on the acquisition thread; a slow
consumer (the window) must take documents through a bounded queue, never block here.
Events are the typed vocabulary of :mod:`rig.core.events`.
Times: ``sample`` is the absolute sample index on the device clock; seconds = sample / fs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rig.core.events import Event  # noqa: F401 - the base of every event (rig.core.events)


@dataclass(frozen=True)
class RunStart:
    sample_rate_hz: float
    ai_channels: tuple[str, ...]
    ai_scale_mV_per_count: tuple[float, ...]  # int16 count → mV at the electrode
    pathways: tuple[int, ...]
    plan_name: str
    planned_samples: int
    wall_time: float
    seed: int | None = None
    provenance: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseStart:
    index: int
    name: str
    kind: str
    sample: int


@dataclass(frozen=True)
class Sweep:
    """One recorded sweep: int16 ADC counts (n_ai, n) for samples [start_sample, start_sample + n)."""

    index: int
    pathway: int
    phase: int
    kind: str
    start_sample: int
    stim_sample: int
    pulse_samples: np.ndarray  # absolute onset of every pulse (int64)
    intensity_uA: float
    width_samples: int
    counts: np.ndarray
    wall_time: float
    # the rig as wired (rig.detector.hardware): NaN / -1 when the rig has no telegraph or monitor
    gain: float = math.nan  # field amplifier gain of this sweep (V/V), from the gain telegraph
    gain_channel: int = -1  # AI channel that gain scales (-1: the fixed scale of RunStart)
    gain_mV_per_count: float = math.nan  # that channel's scale for this sweep
    delivered_uA: float = math.nan  # isolator monitor: median peak current of the sweep's pulses
    delivered_nC: float = math.nan  # median charge per pulse (leading phase)
    monitor_pulses: int = -1  # pulses seen on the monitor (≥ 50 % of the command); -1: no monitor
    # delivered, not planned (rig.core.delivery): counted from the output blocks written; -1: not counted
    pulses_planned: int = -1
    pulses_delivered: int = -1
    first_pulse_sample: int = -1  # onset of the first / last delivered pulse (-1: none)
    last_pulse_sample: int = -1


@dataclass(frozen=True)
class Measured:
    """Detector output for one sweep: one record per pulse (MEASUREMENT_DTYPE). ``analysis``: the
    analysis version it belongs to; ``remeasure``: an earlier sweep measured again for a new version."""

    sweep_index: int
    pathway: int
    phase: int
    sample: int
    records: np.ndarray
    analysis: int = 0
    remeasure: bool = False

    @property
    def averaged_n(self) -> int:
        """> 0: the rows of an averaged measurement (``averaged_n`` sweeps of the pathway, from the
        records' ``first_sweep`` to ``sweep_index``), stored besides the single sweeps' rows."""
        names = self.records.dtype.names or ()
        return int(self.records["averaged_n"][0]) if "averaged_n" in names and len(self.records) else 0


@dataclass(frozen=True)
class Progress:
    sample: int
    planned_samples: int
    sweeps: int


@dataclass(frozen=True)
class RunStop:
    sample: int
    reason: str  # "completed" | "interrupted" | "error" | "aborted" | "incomplete" (stimuli missed)
    message: str = ""
    gaps: int = 0
    lost_samples: int = 0
