"""Synthetic fEPSP sweeps with known ground truth (tests, benchmark, auto-window checks).

A sweep = stimulus artifact (exponential, clipped at the ADC level) + fiber volley (Gaussian
derivative) + fEPSP (difference of exponentials, scaled so its trough is exactly
``amplitude_mV``) + optional population spike (inverted Mexican hat) + white noise + mains hum.
Times in ms relative to the stimulus; voltages in mV at the electrode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Synth:
    fs_hz: float = 20000.0
    pre_ms: float = 20.0
    post_ms: float = 80.0
    baseline_mV: float = 0.0
    amplitude_mV: float = -0.5  # fEPSP trough (DoE component alone)
    onset_ms: float = 2.6
    tau_rise_ms: float = 1.5
    tau_decay_ms: float = 13.0
    volley_mV: float = -0.05  # trough of the volley
    volley_ms: float = 1.9  # time of that trough
    volley_sigma_ms: float = 0.3
    rebound_mV: float = 0.0  # positive peak after the volley's trough (triphasic volley)
    rebound_delay_ms: float = 0.5  # rebound peak after the volley's trough
    rise_sigma_ms: float = 0.0  # dispersion of synaptic onsets (Gaussian): a sigmoid-like rise
    artifact_mV: float = 40.0  # artifact peak before clipping
    artifact_tau_ms: float = 0.08
    clip_mV: float | None = 4.0  # ADC saturation in electrode mV (None: no clipping)
    pop_spike_mV: float = 0.0  # depth d of the spike (negative)
    pop_spike_ms: float = 6.0
    pop_spike_sigma_ms: float = 0.3
    noise_uV: float = 0.0  # white noise RMS
    hum_uV: float = 0.0  # 50 Hz amplitude
    hum_hz: float = 50.0
    hum_phase: float = 0.0
    seed: int = 0

    def with_(self, **kw) -> Synth:
        return replace(self, **kw)

    @property
    def stim_index(self) -> int:
        return int(round(self.pre_ms * self.fs_hz / 1000.0))

    @property
    def n_samples(self) -> int:
        return self.stim_index + int(round(self.post_ms * self.fs_hz / 1000.0))

    def t_ms(self) -> np.ndarray:
        """Sample times, ms relative to the stimulus."""
        return (np.arange(self.n_samples) - self.stim_index) * (1000.0 / self.fs_hz)

    # -- components ------------------------------------------------------------------------------
    def fepsp(self, t_ms: np.ndarray) -> np.ndarray:
        if self.rise_sigma_ms > 0.0:
            return self._dispersed_fepsp(np.asarray(t_ms, dtype=np.float64))
        tr, td = self.tau_rise_ms, self.tau_decay_ms
        tpk = math.log(td / tr) * td * tr / (td - tr)
        norm = math.exp(-tpk / td) - math.exp(-tpk / tr)
        tau = np.clip(t_ms - self.onset_ms, 0.0, None)
        return self.amplitude_mV * (np.exp(-tau / td) - np.exp(-tau / tr)) / norm

    def _dispersed_fepsp(self, t_ms: np.ndarray) -> np.ndarray:
        """The difference of exponentials convolved with a Gaussian of onsets (closed form:
        exponentially modified Gaussians), scaled so its trough is ``amplitude_mV``."""
        from scipy.special import log_ndtr

        sg = self.rise_sigma_ms

        def emg(t: np.ndarray, tau: float) -> np.ndarray:
            return np.exp(-t / tau + sg * sg / (2 * tau * tau) + log_ndtr(t / sg - sg / tau))

        def shape(t: np.ndarray) -> np.ndarray:
            u = t - self.onset_ms - 2.0 * sg  # the mean onset: 2 σ after the first synapses
            return emg(u, self.tau_decay_ms) - emg(u, self.tau_rise_ms)

        dense = np.arange(self.onset_ms, self.onset_ms + 40.0, 0.002)
        return self.amplitude_mV * shape(t_ms) / float(shape(dense).max())

    def volley(self, t_ms: np.ndarray) -> np.ndarray:
        u = (t_ms - (self.volley_ms - self.volley_sigma_ms)) / self.volley_sigma_ms
        v = -self.volley_mV * -u * np.exp(0.5 - u * u / 2.0)
        if self.rebound_mV:
            r = (t_ms - self.volley_ms - self.rebound_delay_ms) / (0.6 * self.volley_sigma_ms)
            v = v + self.rebound_mV * np.exp(-r * r / 2.0)
        return v

    def pop_spike(self, t_ms: np.ndarray) -> np.ndarray:
        if self.pop_spike_mV == 0.0:
            return np.zeros_like(t_ms)
        u = (t_ms - self.pop_spike_ms) / self.pop_spike_sigma_ms
        return self.pop_spike_mV * (1.0 - u * u) * np.exp(-u * u / 2.0)

    def artifact(self, t_ms: np.ndarray) -> np.ndarray:
        a = np.zeros_like(t_ms)
        on = t_ms >= 0.0
        a[on] = self.artifact_mV * np.exp(-t_ms[on] / self.artifact_tau_ms)
        return a

    def clean(self, t_ms: np.ndarray | None = None) -> np.ndarray:
        t = self.t_ms() if t_ms is None else t_ms
        return self.fepsp(t) + self.volley(t) + self.pop_spike(t)

    def trace(self) -> np.ndarray:
        """The recorded sweep (float64 mV), clipped at ``clip_mV``."""
        t = self.t_ms()
        x = self.baseline_mV + self.clean(t) + self.artifact(t)
        if self.hum_uV:
            x += self.hum_uV * 1e-3 * np.sin(2 * np.pi * self.hum_hz * t / 1000.0 + self.hum_phase)
        if self.noise_uV:
            x += np.random.default_rng(self.seed).normal(0.0, self.noise_uV * 1e-3, t.size)
        if self.clip_mV is not None:
            x = np.clip(x, -self.clip_mV, self.clip_mV)
        return x

    # -- ground truth (from the clean fEPSP component) --------------------------------------------
    def true_regression_slope(self, start_ms: float, end_ms: float) -> float:
        """Least-squares slope (mV/ms) of the fEPSP alone over the samples of [start, end)."""
        k = self.fs_hz / 1000.0
        i = np.arange(int(round(start_ms * k)), int(round(end_ms * k)))
        t = i / k
        return float(np.polyfit(t, self.fepsp(t), 1)[0])

    def true_max_slope(self, width_ms: float = 1.0, dt_ms: float = 0.001) -> float:
        """Steepest least-squares slope of any ``width_ms`` window of the fEPSP (dense grid)."""
        t = np.arange(self.onset_ms - 1.0, self.onset_ms + 8.0, dt_ms)
        y = self.fepsp(t)
        w = int(round(width_ms / dt_ms)) + 1
        tw = (np.arange(w) - (w - 1) / 2.0) * dt_ms
        slopes = np.lib.stride_tricks.sliding_window_view(y, w) @ tw / np.dot(tw, tw)
        return float(slopes.min())

    def true_rise_slope(self, lo: float = 0.2, hi: float = 0.8, dt_ms: float = 0.0005) -> float:
        """(hi − lo)·A / (t_hi − t_lo) on the fEPSP's rising phase (dense grid)."""
        t = np.arange(self.onset_ms, self.onset_ms + 10.0, dt_ms)
        z = self.fepsp(t) / self.amplitude_mV
        t_lo = np.interp(lo, z[: np.argmax(z) + 1], t[: np.argmax(z) + 1])
        t_hi = np.interp(hi, z[: np.argmax(z) + 1], t[: np.argmax(z) + 1])
        return (hi - lo) * self.amplitude_mV / (t_hi - t_lo)

    def true_peak_ms(self) -> float:
        if self.rise_sigma_ms > 0.0:
            t = np.arange(self.onset_ms, self.onset_ms + 30.0, 0.001)
            return float(t[np.argmin(self.fepsp(t))])
        tr, td = self.tau_rise_ms, self.tau_decay_ms
        return self.onset_ms + math.log(td / tr) * td * tr / (td - tr)

    def true_pop_spike(self, dt_ms: float = 0.001) -> float:
        """Tangent-method depth on the dense clean signal: trough minus the line joining the
        maxima within 3 σ on either side of it."""
        if self.pop_spike_mV == 0.0:
            return 0.0
        sg = self.pop_spike_sigma_ms
        t = np.arange(self.pop_spike_ms - 3 * sg, self.pop_spike_ms + 3 * sg, dt_ms)
        y = self.clean(t)
        it = int(np.argmin(y))
        il = int(np.argmax(y[:it]))
        ir = it + int(np.argmax(y[it:]))
        line = y[il] + (y[ir] - y[il]) * (t[it] - t[il]) / (t[ir] - t[il])
        return float(y[it] - line)
