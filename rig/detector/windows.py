"""Analysis windows of the detector (ms from the pulse onset) and smoothing widths: plain data,
no numpy (``rig check`` validates a protocol's ``[analysis] windows`` with them)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from dataclasses import replace as _dc_replace

# -- windows -----------------------------------------------------------------------------------
WINDOW_NAMES = ("baseline", "artifact", "volley", "slope", "peak", "pop_spike")
PARAM_NAMES = ("max_slope_width_ms", "volley_smooth_ms", "peak_smooth_ms", "pop_spike_smooth_ms")


@dataclass(frozen=True)
class Windows:
    """Analysis windows, (start, end) in ms relative to the pulse onset, and smoothing widths.

    Defaults suit CA1 fields at 10–20 kHz (volley 1.7–2.5 ms, trough 5.8–6.6 ms). Samples inside
    ``artifact`` are blanked: no post-stimulus window (nor its smoothing) reaches into it.
    """

    baseline: tuple[float, float] = (-5.0, -0.5)
    artifact: tuple[float, float] = (0.0, 0.8)
    volley: tuple[float, float] = (0.8, 2.8)
    slope: tuple[float, float] = (3.0, 4.5)
    peak: tuple[float, float] = (2.5, 15.0)
    pop_spike: tuple[float, float] = (3.0, 12.0)
    max_slope_width_ms: float = 1.0
    volley_smooth_ms: float = 0.2
    peak_smooth_ms: float = 1.0
    pop_spike_smooth_ms: float = 0.3

    def __post_init__(self) -> None:
        for name in WINDOW_NAMES:
            a, b = (float(v) for v in getattr(self, name))
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"window {name}: need finite start < end, got ({a}, {b})")
            object.__setattr__(self, name, (a, b))
        if self.baseline[0] >= self.artifact[0]:
            raise ValueError(f"window baseline: must start before the artifact ({self.artifact[0]} ms)")
        for name in ("volley", "slope", "peak", "pop_spike"):
            if getattr(self, name)[1] <= self.artifact[1]:
                raise ValueError(f"window {name}: must end after the artifact ({self.artifact[1]} ms)")
        for name in PARAM_NAMES:
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name}: need a finite value >= 0, got {v}")
            object.__setattr__(self, name, v)

    def to_dict(self) -> dict:
        """Plain dict (windows as [start, end] lists) for JSON / HDF5 attributes."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> Windows:
        """Inverse of :meth:`to_dict`; unknown keys are an error, missing keys keep defaults."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown window(s): {', '.join(sorted(unknown))}")
        return cls(**{k: (tuple(v) if k in WINDOW_NAMES else v) for k, v in d.items()})

    def replace(self, **changes) -> Windows:
        """A copy with some windows/parameters replaced, e.g. ``w.replace(slope=(2.8, 4.0))``."""
        return _dc_replace(self, **changes)

    def override(self, spec: str) -> Windows:
        """Apply one ``NAME=START:END`` (window, ms) or ``NAME=VALUE`` (parameter) override."""
        name, sep, value = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"{spec!r}: expected NAME=START:END")
        if name in WINDOW_NAMES:
            start, colon, end = value.partition(":")
            if not colon:
                raise ValueError(f"{spec!r}: expected NAME=START:END (ms)")
            try:
                pair = (float(start), float(end))
            except ValueError:
                raise ValueError(f"{spec!r}: START and END must be numbers (ms)") from None
            return self.replace(**{name: pair})
        if name in PARAM_NAMES:
            try:
                return self.replace(**{name: float(value)})
            except ValueError:
                raise ValueError(f"{spec!r}: value must be a number") from None
        known = ", ".join(WINDOW_NAMES + PARAM_NAMES)
        raise ValueError(f"{spec!r}: unknown window {name!r} (known: {known})")
