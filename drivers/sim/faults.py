"""Simulated faults for closed-loop tests: a slice with known, injectable misbehaviour and a
device that drops blocks.

:class:`FaultSlice` is :class:`SimpleSlice` with a fiber volley that does not potentiate (it
follows the stimulus only, as in a real slice), per-electrode I/O curves, an optional
population spike above a threshold, and faults switched on at given times (s on the sample
clock): rundown, response lost, noise burst, volley change (electrode moved), saturating
artifact. :class:`GappyDevice` loses whole blocks at given samples and reports the gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drivers.base import Block
from drivers.sim.device import SimDevice
from drivers.sim.simple_slice import SimpleSlice


class FaultSlice(SimpleSlice):
    """Field response per pulse = volley(I) + fEPSP(I) × weight × rundown(t) (+ pop spike)."""

    def __init__(
        self,
        sample_rate_hz: float,
        n_electrodes: int = 1,
        seed: int = 0,
        *,
        i50_uA: float | Sequence[float] = 120.0,
        io_slope_uA: float | Sequence[float] = 30.0,
        cv: float = 0.06,
        rundown_percent_per_min: float = 0.0,
        lost_after_s: float | None = None,
        noise_burst: tuple[float, float, float] | None = None,  # (t0 s, t1 s, extra µV RMS)
        volley_change: tuple[float, float] | None = None,  # (t s, factor)
        saturate_after_s: float | None = None,
        pop_spike_uA: float | None = None,  # pop spike threshold (µA); None = no spike
        **kw: float,
    ) -> None:
        super().__init__(sample_rate_hz, n_electrodes, seed, **kw)
        self.i50 = np.broadcast_to(np.asarray(i50_uA, dtype=float), (n_electrodes,)).copy()
        self.k = np.broadcast_to(np.asarray(io_slope_uA, dtype=float), (n_electrodes,)).copy()
        self.cv = cv
        self.rundown = rundown_percent_per_min / 100.0
        self.lost_after_s = lost_after_s
        self.noise_burst = noise_burst
        self.volley_change = volley_change
        self.saturate_after_s = saturate_after_s
        self.pop_spike_uA = pop_spike_uA
        t = np.arange(int(0.08 * self.fs)) / self.fs * 1e3  # ms
        # volley ≈ 15 % of the fEPSP peak at the same intensity (CA1: −0.05 mV next to −0.3 mV)
        self.t_volley = -0.15 * (t - 2.0) / 0.3 * np.exp(0.5 - 0.5 * ((t - 2.0) / 0.3) ** 2)
        td = np.clip(t - 2.8, 0.0, None)
        f = np.exp(-td / 12.0) - np.exp(-td / 1.6)
        self.t_fepsp = -f / f.max()
        u = (t - 7.0) / 0.5  # population spike: trough at 7 ms between two positive flanks
        self.t_spike = -(1.0 - u**2) * np.exp(-0.5 * u**2)

    def io(self, e: int, intensity_uA: float) -> float:
        """Analytic I/O sigmoid (0..1) of electrode ``e``."""
        return float(1.0 / (1.0 + np.exp(-(intensity_uA - self.i50[e]) / self.k[e])))

    def target_intensity(self, e: int, fraction: float) -> float:
        """Intensity (µA) that evokes ``fraction`` of the maximal fEPSP on electrode ``e``."""
        return float(self.i50[e] - self.k[e] * np.log(1.0 / fraction - 1.0))

    def _response(self, e: int, amp_uA: float, t_s: float) -> np.ndarray:
        io = self.io(e, amp_uA)
        scale = self.max_fepsp_mV * 1e-3 * self.gain
        fep = io * self.weight[e] * (1.0 + self.cv * self.rng.standard_normal())
        fep *= max(0.0, 1.0 - self.rundown * t_s / 60.0)
        if self.lost_after_s is not None and t_s >= self.lost_after_s:
            fep = 0.0
        vol = io
        if self.volley_change is not None and t_s >= self.volley_change[0]:
            vol *= self.volley_change[1]
        resp = (fep * self.t_fepsp + vol * self.t_volley) * scale
        if self.pop_spike_uA is not None and amp_uA >= self.pop_spike_uA:
            resp = resp + self.t_spike * scale * 0.8 * min(1.0, (amp_uA - self.pop_spike_uA) / 50.0 + 0.3)
        if self.saturate_after_s is not None and t_s >= self.saturate_after_s:
            n0, n1 = int(0.0025 * self.fs), int(0.006 * self.fs)
            resp = resp.copy()
            resp[n0:n1] += 12.0  # V at the ADC: beyond ±10 V, clipped
        return resp

    def _background(self, start: int, n: int) -> np.ndarray:
        out = super()._background(start, n)
        if self.noise_burst is not None:
            t = (start + np.arange(n)) / self.fs
            t0, t1, uV = self.noise_burst
            sel = (t >= t0) & (t < t1)
            if sel.any():
                out[sel] += self.rng.standard_normal(int(sel.sum())) * uV * 1e-6 * self.gain
        return out


class GappyDevice(SimDevice):
    """A SimDevice that loses one block of samples at each sample index in ``drop_at``."""

    def __init__(self, *a: object, drop_at: Sequence[int] = (), **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.drop_at = sorted(int(s) for s in drop_at)
        self.dropped = 0

    def read(self) -> Block:
        if self.drop_at and self._pos >= self.drop_at[0]:
            self.drop_at.pop(0)
            lost = super().read()  # acquired by the hardware, never delivered
            blk = super().read()
            self.dropped += lost.data.shape[1]
            return Block(blk.start, blk.data, gap=lost.data.shape[1])
        return super().read()
