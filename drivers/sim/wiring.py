"""The simulated rig as wired: amplifier gain (and its telegraph), isolators (range switch, TTL-only
front panels) and their current monitors around a virtual slice, with injectable wiring faults.

:class:`WiredSlice` wraps any slice model (``SliceModel``): it turns the AO command and the TTL
lines into the current each isolator really delivers (× its range switch; a TTL-only isolator
delivers its front-panel µA for its front-panel width from each rising edge), lets the slice
respond, scales the field by the amplifier's real gain, and adds the telegraph and monitor
channels in the rig file's AI order.

Faults (``--sim-fault NAME@MINUTES`` on ``rig run --sim``):

* ``gain_knob@T`` — the amplifier's gain knob is turned at minute T: the gain steps to the next
  higher entry of the telegraph table (×2 without a telegraph: nothing can tell then);
* ``range_x10@T`` — the isolators' range switch goes to ×10 at minute T: 10× the commanded current.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

WIRING_FAULTS = ("gain_knob", "range_x10")
_SPEC = re.compile(r"^(?P<name>[a-z_0-9]+)@(?P<t>[0-9]+(\.[0-9]+)?)$")


@dataclass(frozen=True)
class WiringFault:
    name: str
    t_s: float


def parse_wiring_fault(spec: str) -> WiringFault:
    """``"gain_knob@20"`` → WiringFault("gain_knob", 1200 s); ValueError with the allowed names."""
    m = _SPEC.match(spec.strip())
    if m is None:
        raise ValueError(f"{spec!r}: expected NAME@MINUTES, e.g. gain_knob@20")
    if m["name"] not in WIRING_FAULTS:
        raise ValueError(f"{spec!r}: unknown fault {m['name']!r} (wiring faults: {', '.join(WIRING_FAULTS)})")
    return WiringFault(m["name"], float(m["t"]) * 60.0)


@dataclass(frozen=True)
class AIRole:
    """One AI channel of the simulated rig: ``kind`` field (row ``index`` of the slice), telegraph,
    or monitor (of pathway ``index``, ``uA_per_V`` at its output)."""

    kind: str
    index: int = 0
    uA_per_V: float = 1.0


@dataclass(frozen=True)
class Isolator:
    """How a pathway's current is made: ``ao`` row (µA already scaled), or TTL ``line`` with
    the front panel's ``panel_uA`` / ``panel_width_samples``."""

    ao: int | None
    line: int | None = None
    panel_uA: float = 0.0
    panel_width_samples: int = 0


class WiredSlice:
    """A slice model behind simulated isolators, an amplifier with a gain telegraph, and monitors."""

    def __init__(self, inner: object, fs: float, roles: list[AIRole], isolators: list[Isolator],
                 gain0: float, telegraph_table: tuple[tuple[float, float], ...] | None = None,
                 faults: tuple[WiringFault, ...] = (), seed: int = 0) -> None:
        self.inner = inner
        self.fs = float(fs)
        self.roles = roles
        self.isolators = isolators
        self.n_ai = len(roles)
        self.gain0 = float(gain0)
        self.table = tuple(sorted(telegraph_table or (), key=lambda e: e[1]))
        self.rng = np.random.default_rng(seed + 7919)
        self._prev_ttl = np.zeros(len(isolators), dtype=bool)
        self._panel_left = np.zeros(len(isolators), dtype=np.int64)  # samples of a front-panel pulse to go
        self.gain_after = self.gain0
        self.t_gain = self.t_range = None
        for f in faults:
            if f.name == "gain_knob":
                self.t_gain = f.t_s
                higher = [g for _, g in self.table if g > self.gain0]
                self.gain_after = float(higher[0]) if higher else self.gain0 * 2.0
            elif f.name == "range_x10":
                self.t_range = f.t_s

    def _step(self, t: np.ndarray, t0: float | None, before: float, after: float) -> np.ndarray:
        if t0 is None:
            return np.full(t.size, before)
        return np.where(t >= t0, after, before)

    def telegraph_V(self, gain: float) -> float:
        return float(next((v for v, g in self.table if g == gain), 0.0))

    def _currents(self, stim_uA: np.ndarray, ttl: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros((len(self.isolators), n))
        for k, iso in enumerate(self.isolators):
            if iso.ao is not None:
                out[k] = stim_uA[iso.ao]
            elif iso.line is not None and ttl.shape[0] > iso.line:
                high = ttl[iso.line].astype(bool)
                rise = high & ~np.concatenate(([self._prev_ttl[k]], high[:-1]))
                self._prev_ttl[k] = high[-1] if n else self._prev_ttl[k]
                left = int(self._panel_left[k])
                for i in range(n):
                    if rise[i]:
                        left = iso.panel_width_samples
                    if left > 0:
                        out[k, i] = iso.panel_uA
                        left -= 1
                self._panel_left[k] = left
        return out

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        n = stim_uA.shape[1]
        t = (start + np.arange(n)) / self.fs
        cur = self._currents(stim_uA, ttl, n) * self._step(t, self.t_range, 1.0, 10.0)[None, :]
        fields = self.inner.respond(start, cur, ttl)
        gain = self._step(t, self.t_gain, self.gain0, self.gain_after)
        out = np.zeros((self.n_ai, n))
        for k, r in enumerate(self.roles):
            if r.kind == "field":
                if r.index < fields.shape[0]:
                    out[k] = fields[r.index] * (gain / self.gain0)
            elif r.kind == "telegraph":
                v = np.array([self.telegraph_V(g) for g in (self.gain0, self.gain_after)])
                out[k] = np.where(gain == self.gain0, v[0], v[1]) + self.rng.standard_normal(n) * 1e-3
            else:  # monitor: the isolator's delivered current, µA per V at its output
                out[k] = cur[r.index] / r.uA_per_V + self.rng.standard_normal(n) * 1e-3
        return out
