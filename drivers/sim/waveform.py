"""Evoked-waveform kernels and the per-sample background (noise, pickup, drift, artifact).

Kernels are unit-amplitude shapes sampled at the sample rate, starting at the pulse onset:
fiber volley (triphasic, negative peak −1), fEPSP (difference of exponentials smoothed by a
Gaussian latency dispersion, trough −1) and population spike (a notch: Mexican hat, −1). The
background is synthesised by one numba kernel that is a pure function of the absolute sample
index (counter-based noise) plus small carried filter states, so a slice's output does not
depend on how the samples are split into blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from drivers.sim.slice_params import SliceParams

_TABLE_BITS = 12


@dataclass(frozen=True)
class Kernels:
    """Unit waveform shapes (length ``n`` samples from the pulse onset)."""

    fv: np.ndarray
    epsp: np.ndarray
    ps: np.ndarray  # the notch at the slice's threshold latency (each pulse renders its own latency)

    @property
    def n(self) -> int:
        return self.epsp.size


def build_kernels(p: SliceParams) -> Kernels:
    """The slice's unit kernels (each with a negative peak of exactly −1)."""
    fs = p.sample_rate_hz
    dt_ms = 1000.0 / fs
    n = int(np.ceil((p.epsp_onset_ms + 9.0 * p.epsp_decay_ms) / dt_ms))
    t = np.arange(n) * dt_ms
    # fiber volley: negative Gaussian with small positive flanks (2nd derivative of a Gaussian)
    x = (t - p.fv_latency_ms) / p.fv_width_ms
    fv = -(1.0 - 0.5 * x * x) * np.exp(-0.5 * x * x)
    fv[t < 0.4] = 0.0
    fv /= -fv.min()
    # fEPSP: difference of exponentials after the onset, convolved with latency dispersion
    tt = t - p.epsp_onset_ms
    doe = np.where(tt > 0, np.exp(-np.maximum(tt, 0) / p.epsp_decay_ms)
                   - np.exp(-np.maximum(tt, 0) / p.epsp_rise_ms), 0.0)
    sig = p.epsp_dispersion_ms / dt_ms
    half = int(np.ceil(4 * sig))
    g = np.exp(-0.5 * (np.arange(-half, half + 1) / sig) ** 2)
    epsp = -np.convolve(doe, g / g.sum(), mode="same")
    epsp[t < 0.5] = 0.0
    epsp /= -epsp.min()
    return Kernels(fv=fv, epsp=epsp, ps=pop_spike_notch(n, fs, p.ps_latency_ms, p.ps_width_ms))


def pop_spike_notch(n: int, fs: float, latency_ms: float, width_ms: float) -> np.ndarray:
    """Population spike as a stratum-radiatum recording shows it: a notch on the fEPSP (negative
    Gaussian core with positive flanks, a Mexican hat), trough −1 at ``latency_ms``."""
    t = np.arange(n) * (1000.0 / fs)
    y = (t - latency_ms) / width_ms
    ps = -(1.0 - y * y) * np.exp(-0.5 * y * y)
    ps[t < 0.5] = 0.0
    return ps


def _norm_ppf(u: np.ndarray) -> np.ndarray:
    """Inverse standard-normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00]
    out = np.empty_like(u)
    lo, hi = u < 0.02425, u > 1 - 0.02425
    mid = ~(lo | hi)
    q = np.sqrt(-2 * np.log(u[lo]))
    out[lo] = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    q = np.sqrt(-2 * np.log(1 - u[hi]))
    out[hi] = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    q = u[mid] - 0.5
    r = q * q
    out[mid] = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    return out


def normal_table() -> np.ndarray:
    """4096 equiprobable standard-normal values (unit variance), for counter-based noise."""
    n = 1 << _TABLE_BITS
    z = _norm_ppf((np.arange(n) + 0.5) / n)
    return z / z.std()


@numba.njit(cache=True, nogil=True, inline="always")
def _mix64(x: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a counter → 64 well-mixed bits."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def synth_background(start, stim, out, keys, table, noise_sd, lp_alpha, lp_state,
                     hum_amp, hum_w, hum_phase, drift_f, drift_a, drift_ph, drift_step, fs,
                     art_gain, art_decay, art_state, pulse_state, pulses, resync):
    """Fill ``out`` (n_ai, n) in electrode mV with noise + pickup + drift + artifact, and find
    the pulses that *end* in this block: :func:`synth_noise`, then :func:`synth_artifact`."""
    synth_noise(start, out, keys, table, noise_sd, lp_alpha, lp_state, hum_amp, hum_w, hum_phase,
                drift_f, drift_a, drift_ph, drift_step, fs, resync, np.empty((0, 0)))
    return synth_artifact(start, stim, out, art_gain, art_decay, art_state, pulse_state, pulses)


@numba.njit(cache=True, nogil=True)
def synth_noise(start, out, keys, table, noise_sd, lp_alpha, lp_state, hum_amp, hum_w, hum_phase,
                drift_f, drift_a, drift_ph, drift_step, fs, resync, ys):
    """Fill ``out`` (n_ai, n) in electrode mV with noise + pickup + drift: a pure function of the
    absolute sample index and the noise filter's state ``lp_state`` (n_ai, carried across calls).

    The drift (sum of sinusoids, 1/f amplitudes) is evaluated every ``drift_step`` absolute
    samples and interpolated linearly. The pickup oscillator (a rotation recurrence) restarts
    from its exact phase at ``start`` and at every absolute sample that is a multiple of
    ``resync`` (0: only at ``start``), so one call over many device blocks gives the very samples
    of one call per block when ``resync`` is the block size. ``ys`` (n_ai, m; m may be 0)
    receives the filter state before each restart on the ``resync`` grid, ``ys[c, k]`` before
    sample ``start + k·resync`` (``start`` on the grid): where a later call may take over.
    """
    n_ai, n = out.shape
    mask = np.uint64((1 << 12) - 1)
    g0 = start - start % drift_step
    ng = (start + n - 1 - g0) // drift_step + 2
    grid = np.zeros(ng)
    golden = np.uint64(0x9E3779B97F4A7C15)
    cw = np.cos(hum_w)
    sw = np.sin(hum_w)
    c07 = np.cos(0.7)
    s07 = np.sin(0.7)
    inv = 1.0 / drift_step
    for c in range(n_ai):
        for j in range(ng):
            tg = (g0 + j * drift_step) / fs
            acc = 0.0
            for q in range(drift_f.shape[1]):
                acc += drift_a[c, q] * np.sin(2.0 * np.pi * drift_f[c, q] * tg + drift_ph[c, q])
            grid[j] = acc
        row = out[c]
        y = lp_state[c]
        key = keys[c]
        sd = noise_sd[c]
        a1 = hum_amp[c, 0]
        a3 = hum_amp[c, 1]
        sn = 0.0
        cs = 0.0
        j = (start - g0) // drift_step
        r = start - g0 - j * drift_step
        k = np.uint64(start) * golden + key
        i = 0
        next_sync = start  # absolute sample of the next oscillator restart
        while i < n:
            if start + i == next_sync:
                ph0 = hum_w * (start + i) + hum_phase[c]
                sn = np.sin(ph0)
                cs = np.cos(ph0)
                if resync > 0 and ys.shape[1] > 0 and (start + i) % resync == 0:
                    ys[c, i // resync] = y
                next_sync = (start + i) // resync * resync + resync if resync > 0 else start + n
            seg = min(n - i, drift_step - r, next_sync - start - i)
            gj = grid[j]
            dg = grid[j + 1] - grid[j]
            for t in range(seg):  # the hot loop: same operations, in the same order, as one sample at a time
                h = _mix64(k)
                k += golden
                z = table[np.int64(h >> np.uint64(52)) & np.int64(mask)]
                y += lp_alpha * (z * sd - y)
                s3 = sn * (3.0 - 4.0 * sn * sn)
                c3 = cs * (4.0 * cs * cs - 3.0)
                f = (r + t) * inv
                row[i + t] = y + a1 * sn + a3 * (s3 * c07 + c3 * s07) + gj + dg * f
                sn, cs = sn * cw + cs * sw, cs * cw - sn * sw
            i += seg
            r += seg
            if r == drift_step:
                r = 0
                j += 1
        lp_state[c] = y


@numba.njit(cache=True, nogil=True)
def synth_artifact(start, stim, out, art_gain, art_decay, art_state, pulse_state, pulses):
    """Add the stimulus artifact of ``stim`` (n_el, n) µA into ``out`` (n_ai, n) and find the
    pulses that *end* in this block.

    ``pulse_state`` (n_el, 3): in_pulse, onset (abs sample), max |µA|, carried across blocks.
    ``pulses`` (m, 3) receives (electrode, onset, max |µA|) of every pulse completed here;
    returns how many.
    """
    n_ai, n = out.shape
    n_el = stim.shape[0]
    n_found = 0
    for e in range(n_el):
        hstate = art_state[e]
        inp = pulse_state[e, 0]
        onset = pulse_state[e, 1]
        mx = pulse_state[e, 2]
        srow = stim[e]
        i = 0
        while i < n:
            if hstate == 0.0 and inp == 0.0:  # at rest: skip to the next nonzero stimulus sample
                while i < n and srow[i] == 0.0:
                    i += 1
                if i == n:
                    break
            s = srow[i]
            if s != 0.0:
                hstate = s
                if inp == 0.0:
                    inp = 1.0
                    onset = start + i
                    mx = 0.0
                if abs(s) > mx:
                    mx = abs(s)
            else:
                hstate *= art_decay
                if inp != 0.0:
                    pulses[n_found, 0] = e
                    pulses[n_found, 1] = onset
                    pulses[n_found, 2] = mx
                    n_found += 1
                    inp = 0.0
            if hstate != 0.0:
                if abs(hstate) < 1e-9:
                    hstate = 0.0
                for c in range(n_ai):
                    out[c, i] += art_gain[c, e] * hstate
            i += 1
        art_state[e] = hstate
        pulse_state[e, 0] = inp
        pulse_state[e, 1] = onset
        pulse_state[e, 2] = mx
    return n_found
