"""A minimal virtual slice: fiber volley + fEPSP per delivered pulse, noise, hum and potentiation
after high-frequency pulses. The realistic slice lives in ``drivers.sim.slice``; this one stays
as a small, fast, predictable model for engine tests.
"""

from __future__ import annotations

import numpy as np


class SimpleSlice:
    """Pulses in (µA per electrode), field potential out (V at the amplifier output)."""

    def __init__(
        self,
        sample_rate_hz: float,
        n_electrodes: int = 1,
        seed: int = 0,
        *,
        gain: float = 1000.0,
        max_fepsp_mV: float = 1.5,
        i50_uA: float = 120.0,
        io_slope_uA: float = 30.0,
        noise_uV: float = 25.0,
        potentiation_per_pulse: float = 0.012,
        weight_max: float = 1.9,
        hf_isi_ms: float = 25.0,
    ) -> None:
        self.fs = float(sample_rate_hz)
        self.n_ai = 1
        self.gain = gain
        self.rng = np.random.default_rng(seed)
        self.max_fepsp_mV = max_fepsp_mV
        self.i50_uA, self.io_slope_uA = i50_uA, io_slope_uA
        self.noise_V = noise_uV * 1e-6 * gain
        self.pot = potentiation_per_pulse
        self.w_max = weight_max
        self.hf_isi = int(hf_isi_ms * 1e-3 * self.fs)
        self.weight = np.ones(n_electrodes)
        self.last_onset = np.full(n_electrodes, -(10**12), dtype=np.int64)
        self._prev_active = np.zeros(n_electrodes, dtype=bool)
        self._pending = np.zeros(0)  # response tail carried into later blocks (V)
        self._pending_start = 0
        self.template = self._template()
        self.response_scale = None  # (electrode, t_s) -> (fEPSP, volley) factors: drivers.sim.slice_faults

    def _template(self) -> np.ndarray:
        """Unit response (peak fEPSP = -1) over 80 ms: volley at 2 ms, fEPSP trough ~6 ms."""
        t = np.arange(int(0.08 * self.fs)) / self.fs * 1e3  # ms
        volley = -0.08 * (t - 2.0) / 0.3 * np.exp(0.5 - 0.5 * ((t - 2.0) / 0.3) ** 2)
        td = np.clip(t - 2.8, 0.0, None)
        fepsp = np.exp(-td / 12.0) - np.exp(-td / 1.6)
        fepsp = -fepsp / fepsp.max()
        return volley * 0.5 + fepsp

    def _amplitude_mV(self, pathway: int, intensity_uA: float) -> float:
        io = 1.0 / (1.0 + np.exp(-(intensity_uA - self.i50_uA) / self.io_slope_uA))
        cv = 1.0 + 0.06 * self.rng.standard_normal()
        return self.max_fepsp_mV * io * self.weight[pathway] * cv

    def _response(self, e: int, amp_uA: float, t_s: float) -> np.ndarray:
        """Evoked response (V at the ADC) to a pulse of ``amp_uA`` on electrode ``e`` at ``t_s``."""
        scale = self._amplitude_mV(e, amp_uA) * 1e-3 * self.gain
        if self.response_scale is not None:
            scale *= self.response_scale(e, t_s)[0]
        return self.template * scale

    def _background(self, start: int, n: int) -> np.ndarray:
        """Noise and 50 Hz pickup (V at the ADC) for samples [start, start + n)."""
        out = self.rng.standard_normal(n) * self.noise_V
        t = (start + np.arange(n)) / self.fs
        out += 8e-6 * self.gain * np.sin(2 * np.pi * 50.0 * t)
        return out

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        n = stim_uA.shape[1]
        out = self._background(start, n)
        # carry over tails of earlier responses
        if self._pending.size:
            k = min(n, self._pending.size)
            out[:k] += self._pending[:k]
            self._pending = self._pending[k:]
        active = stim_uA != 0.0
        for e in range(stim_uA.shape[0]):
            prev = np.concatenate(([self._prev_active[e]], active[e, :-1]))
            for i in np.flatnonzero(active[e] & ~prev):
                j = i
                while j < n and active[e, j]:
                    j += 1
                amp_uA = float(np.abs(stim_uA[e, i:j]).max())
                self._add_artifact(out, i, j, amp_uA)
                onset_abs = start + i
                if onset_abs - self.last_onset[e] <= self.hf_isi:
                    self.weight[e] += self.pot * (self.w_max - self.weight[e])
                self.last_onset[e] = onset_abs
                self._add(out, i, self._response(e, amp_uA, onset_abs / self.fs))
            self._prev_active[e] = active[e, -1]
        return out[None, :]

    def _add_artifact(self, out: np.ndarray, i: int, j: int, amp_uA: float) -> None:
        art = 0.04e-3 * amp_uA * self.gain  # 40 µV per µA at the electrode
        out[i:j] += art
        k = min(out.size, j + max(2, int(0.0002 * self.fs)))
        out[j:k] -= art * 0.5

    def _add(self, out: np.ndarray, i: int, resp: np.ndarray) -> None:
        n = out.size
        k = min(n - i, resp.size)
        out[i : i + k] += resp[:k]
        rest = resp[k:]
        if rest.size:
            if self._pending.size < rest.size:
                self._pending = np.concatenate((self._pending, np.zeros(rest.size - self._pending.size)))
            self._pending[: rest.size] += rest
