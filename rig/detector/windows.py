"""Analysis windows of the detector (ms from the pulse onset) and smoothing widths: plain data,
no numpy (``rig check`` validates a protocol's ``[analysis] windows`` with them)."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields
from dataclasses import replace as _dc_replace

# -- windows -----------------------------------------------------------------------------------
WINDOW_NAMES = ("baseline", "artifact", "volley", "slope", "peak", "pop_spike")
PARAM_NAMES = ("max_slope_width_ms", "volley_smooth_ms", "peak_smooth_ms", "pop_spike_smooth_ms")


MAX_WINDOW_MS = 10_000.0  # a window bound beyond ±10 s of the pulse is a typo (1e308 overflowed)
MAX_SMOOTH_MS = 100.0


def _pair(name: str, v: object) -> tuple[float, float]:
    """``v`` as a (start, end) pair of numbers (ValueError naming the window otherwise)."""
    ok = (isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray") and len(v) == 2 and all(
        isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v)
    if not ok:
        raise ValueError(f"window {name}: need [start, end] in ms, got {v!r}")
    return float(v[0]), float(v[1])


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
            a, b = _pair(name, getattr(self, name))
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise ValueError(f"window {name}: need finite start < end, got ({a:g}, {b:g})")
            if max(abs(a), abs(b)) > MAX_WINDOW_MS:
                raise ValueError(f"window {name}: ({a:g}, {b:g}) ms outside ±{MAX_WINDOW_MS:g} ms of the pulse")
            object.__setattr__(self, name, (a, b))
        if self.baseline[0] >= self.artifact[0]:
            raise ValueError(f"window baseline: must start before the artifact ({self.artifact[0]} ms)")
        for name in ("volley", "slope", "peak", "pop_spike"):
            if getattr(self, name)[1] <= self.artifact[1]:
                raise ValueError(f"window {name}: must end after the artifact ({self.artifact[1]} ms)")
        for name in PARAM_NAMES:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{name}: need a number of ms, got {v!r}")
            v = float(v)
            if not (math.isfinite(v) and 0.0 <= v <= MAX_SMOOTH_MS):
                raise ValueError(f"{name}: need a finite value in [0, {MAX_SMOOTH_MS:g}] ms, got {v:g}")
            object.__setattr__(self, name, v)

    def outside(self, pre_ms: float, post_ms: float) -> str:
        """Why the windows do not fit a sweep of ``pre_ms`` before and ``post_ms`` after the pulse
        ('' when they do)."""
        for name in WINDOW_NAMES:
            a, b = getattr(self, name)
            if a < -pre_ms - 1e-9 or b > post_ms + 1e-9:
                return (f"window {name} ({a:g}, {b:g}) ms is outside the sweep: allowed [{-pre_ms:g}, "
                        f"{post_ms:g}] ms around the pulse (stimulation.sweep_pre_ms / sweep_post_ms)")
        return ""

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
        return cls(**dict(d.items()))

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
