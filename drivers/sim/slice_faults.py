"""Slice faults a user can rehearse (``rig run --sim --sim-fault NAME@MINUTES``), around any slice
model (``SliceModel``):

* ``slice-death@T`` — from minute T the slice dies: the fEPSP fades with τ = 2 min, the fiber
  volley with τ = 6 min (axons outlive synapses); the artifact stays. Raises ``response_lost``.
* ``noise@T`` — from minute T a lost ground adds 250 µV RMS of broadband noise. Raises ``noise``.
* ``electrode-shift@T`` — at minute T the recording electrode moves: the volley steps to 35 % and
  the fEPSP to 60 % of their size. Raises ``volley_change`` (when the protocol enables it).

The wrapped model keeps its own contract; the faults scale each evoked response through the
model's ``response_scale`` hook (``(electrode, t_s) → (fEPSP factor, volley factor)``) and add the
noise to the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SLICE_FAULTS = ("slice-death", "noise", "electrode-shift")
DEATH_TAU_S = (120.0, 360.0)  # fEPSP, fiber volley
NOISE_UV = 250.0
SHIFT = (0.60, 0.35)  # fEPSP, fiber volley


@dataclass(frozen=True)
class SliceFault:
    name: str
    t_s: float


class FaultySlice:
    """``inner`` with the given slice faults (see the module docstring)."""

    def __init__(self, inner: object, faults: tuple[SliceFault, ...], seed: int = 0) -> None:
        self.inner = inner
        self.n_ai = inner.n_ai  # type: ignore[attr-defined]
        self.faults = faults
        self.fs = float(inner.fs)  # type: ignore[attr-defined]
        params = getattr(inner, "params", None)
        self.gain = float(params.gain if params is not None else getattr(inner, "gain", 1000.0))
        self.rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xFA17])
        self.t_noise = min((f.t_s for f in faults if f.name == "noise"), default=None)
        inner.response_scale = self.response_scale  # type: ignore[attr-defined]

    def response_scale(self, el: int, t_s: float) -> tuple[float, float]:
        """(fEPSP factor, volley factor) for a pulse on electrode ``el`` at ``t_s``."""
        fe = fv = 1.0
        for f in self.faults:
            if t_s < f.t_s:
                continue
            if f.name == "slice-death":
                dt = t_s - f.t_s
                fe *= math.exp(-dt / DEATH_TAU_S[0])
                fv *= math.exp(-dt / DEATH_TAU_S[1])
            elif f.name == "electrode-shift":
                fe *= SHIFT[0]
                fv *= SHIFT[1]
        return fe, fv

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        out = self.inner.respond(start, stim_uA, ttl)  # type: ignore[attr-defined]
        if self.t_noise is not None:
            n = out.shape[1]
            first = max(0, int(math.ceil(self.t_noise * self.fs)) - start)
            if first < n:
                out[:, first:] += self.rng.standard_normal((out.shape[0], n - first)) * NOISE_UV * 1e-6 * self.gain
        return out

    def __getattr__(self, name: str) -> object:  # introspection (efficacy, intensity_for) passes through
        return getattr(self.__dict__["inner"], name)
