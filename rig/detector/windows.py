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


# -- windows per pathway -----------------------------------------------------------------------
def _diff(a: Windows, b: Windows) -> dict:
    """The entries of ``b.to_dict()`` that differ from ``a``'s (what to replace in ``a`` to get ``b``)."""
    da, db = a.to_dict(), b.to_dict()
    return {k: v for k, v in db.items() if da[k] != v}


def _from_diff(base: Windows, diff: dict) -> Windows:
    """``base`` with the entries of ``diff`` (a ``to_dict()`` or part of one) replaced."""
    known = set(WINDOW_NAMES + PARAM_NAMES)
    unknown = set(diff) - known
    if unknown:
        raise ValueError(f"unknown window(s): {', '.join(sorted(unknown))}")
    return base.replace(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in diff.items()})


@dataclass(frozen=True)
class PathwayWindows:
    """The windows of every pathway: ``default`` for each pathway without its own set in ``own``
    (pathway index → :class:`Windows`). Online (engine) and offline (``rig analyze``) share it.

    Stored (root attributes, ``analysis`` events) as :meth:`to_dict` (the default set: what readers
    of one window set read) plus :meth:`pathway_dict` (per pathway index, only the entries that differ
    from the default); :meth:`from_dicts` reads both back."""

    default: Windows = Windows()
    own: tuple[tuple[int, Windows], ...] = ()  # sorted by pathway; none equal to ``default``

    def __post_init__(self) -> None:
        own = {}
        for pw, w in self.own:
            if not isinstance(pw, int) or isinstance(pw, bool) or pw < 0:
                raise ValueError(f"pathway {pw!r}: need an index 0, 1, …")
            if w != self.default:
                own[pw] = w
        object.__setattr__(self, "own", tuple(sorted(own.items())))

    @classmethod
    def of_any(cls, w: PathwayWindows | Windows | dict | None) -> PathwayWindows:
        """From a window set shared by every pathway, a dict pathway → Windows, or None (defaults)."""
        if isinstance(w, PathwayWindows):
            return w
        if isinstance(w, Windows):
            return cls(w)
        if not w:
            return cls()
        first = w[min(w)]
        return cls(first, tuple((int(k), v) for k, v in w.items()))

    def of(self, pathway: int) -> Windows:
        """The windows of ``pathway``."""
        for pw, w in self.own:
            if pw == pathway:
                return w
        return self.default

    def sets(self) -> list[Windows]:
        """Every distinct window set in use (the default first)."""
        return [self.default, *(w for _, w in self.own)]

    def with_pathway(self, pathway: int | None, windows: Windows) -> PathwayWindows:
        """``windows`` for ``pathway`` (None: the default and every pathway)."""
        if pathway is None:
            return PathwayWindows(windows)
        return PathwayWindows(self.default, (*((p, w) for p, w in self.own if p != pathway), (int(pathway), windows)))

    def replace(self, pathway: int | None = None, **changes) -> PathwayWindows:
        """Some windows replaced for ``pathway``, or (None) for the default and every pathway's own set."""
        if pathway is not None:
            return self.with_pathway(pathway, self.of(pathway).replace(**changes))
        return PathwayWindows(self.default.replace(**changes),
                              tuple((p, w.replace(**changes)) for p, w in self.own))

    def override(self, spec: str) -> PathwayWindows:
        """One ``NAME=START:END`` / ``NAME=VALUE`` override for every pathway (:meth:`Windows.override`)."""
        return PathwayWindows(self.default.override(spec), tuple((p, w.override(spec)) for p, w in self.own))

    def outside(self, pre_ms: float, post_ms: float) -> str:
        """Why a pathway's windows do not fit the sweep ('' when every set does)."""
        for pw, w in ((None, self.default), *self.own):
            why = w.outside(pre_ms, post_ms)
            if why:
                return why if pw is None else f"pathway S{pw + 1}: {why}"
        return ""

    def to_dict(self) -> dict:
        """The default set (:meth:`Windows.to_dict`)."""
        return self.default.to_dict()

    def pathway_dict(self) -> dict[str, dict]:
        """Per pathway index (as text) with its own windows: the entries that differ from the default."""
        return {str(p): _diff(self.default, w) for p, w in self.own}

    @classmethod
    def from_dicts(cls, default: dict | None, per_pathway: dict | None = None) -> PathwayWindows:
        """Inverse of :meth:`to_dict` + :meth:`pathway_dict` (ValueError naming what is wrong)."""
        base = Windows.from_dict(dict(default or {}))
        own = []
        for k, d in dict(per_pathway or {}).items():
            try:
                pw = int(k)
            except (TypeError, ValueError):
                raise ValueError(f"pathway {k!r}: need a pathway index") from None
            if not isinstance(d, dict):
                raise ValueError(f"pathway {k}: need an object of windows")
            own.append((pw, _from_diff(base, d)))
        return cls(base, tuple(own))
