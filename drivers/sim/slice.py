"""The realistic virtual CA1 slice (a :class:`drivers.sim.model.SliceModel`).

``respond`` finds the pulses in the stimulus current of each electrode (a pulse = contiguous
nonzero samples; intensity = max |µA|; a biphasic pulse counts once), applies each one to the
synaptic state at its onset (event driven, :mod:`drivers.sim.plasticity`), and adds the evoked
waveform — fiber volley, fEPSP, population spike — into the samples it covers, carrying the tail
into later blocks. The stimulus artifact, noise, line pickup and drift come from
:func:`drivers.sim.waveform.synth_background`. Drugs reach the slice through the bath
(:mod:`drivers.sim.pharmacology`): DO lines open perfusion valves. Output: volts at the
amplifier output (electrode volts × gain), not quantized (the device's ADC clips and quantizes).
"""

from __future__ import annotations

import functools
import math
import weakref

import numpy as np

from drivers.sim.background import BackgroundAhead
from drivers.sim.pharmacology import Bath
from drivers.sim.plasticity import Synapses, recruitment, sigmoid
from drivers.sim.slice_params import SliceParams, draw_slice_params
from drivers.sim.waveform import (
    build_kernels,
    normal_table,
    pop_spike_notch,
    synth_artifact,
    synth_noise,
)

_DRIFT_STEP = 64  # samples between drift grid points (linear interpolation between)
_DRIFT_FREQS_HZ = np.geomspace(0.001, 0.5, 12)
_MAX_STEP_S = 1.0  # longest closed-form step of the slow state
_NO_YS = np.empty((0, 0))  # synth_noise: no filter states wanted


class RealisticSlice:
    """A virtual slice with ``len(params.pathways)`` stimulating electrodes and ``params.n_ai``
    recording channels. Deterministic per ``params.seed``; independent of the block partition
    (bit for bit when the calls start on the ``resync_samples`` grid, as the simulated DAQ's do)."""

    def __init__(self, params: SliceParams, valves=(), bath: dict[str, float] | None = None,
                 pre_incubated: dict[str, tuple[float, float]] | None = None) -> None:
        p = self.params = params
        self.n_ai = p.n_ai
        self.n_el = len(p.pathways)
        self.fs = p.sample_rate_hz
        self.kernels = build_kernels(p)
        self.bath = Bath(valves, bath, pre_incubated=pre_incubated)
        self.syn = Synapses(p)
        rng = np.random.default_rng([p.seed & 0xFFFFFFFF, 0xB0B])
        self._table = normal_table()
        self._keys = np.array([rng.integers(1, 2**63, dtype=np.uint64) for _ in range(self.n_ai)],
                              dtype=np.uint64)
        alpha = 1.0 - math.exp(-2 * math.pi * p.noise_corner_hz / self.fs)
        self._lp_alpha = alpha
        self._noise_sd = np.full(self.n_ai, p.noise_uV * 1e-3 * math.sqrt((2 - alpha) / alpha))
        self._lp_state = np.zeros(self.n_ai)
        self._hum_amp = np.array([[p.line_uV * 1e-3, 0.3 * p.line_uV * 1e-3]] * self.n_ai)
        self._hum_w = 2 * math.pi * p.line_hz / self.fs
        self._hum_phase = rng.uniform(0, 2 * math.pi, self.n_ai)
        f = _DRIFT_FREQS_HZ * np.exp(rng.uniform(-0.2, 0.2, (self.n_ai, _DRIFT_FREQS_HZ.size)))
        amp = f ** -0.5
        amp *= p.drift_uV * 1e-3 / np.sqrt(0.5 * (amp ** 2).sum(axis=1, keepdims=True))
        self._drift_f, self._drift_a = f, amp
        self._drift_ph = rng.uniform(0, 2 * math.pi, f.shape)
        cpl = np.array(p.coupling, dtype=float)  # (n_ai, n_el)
        self._coupling = cpl
        self._art_gain = cpl * np.array([pw.artifact_mV_per_uA for pw in p.pathways])[None, :]
        self._art_decay = math.exp(-1.0 / (self.fs * p.artifact_tau_ms * 1e-3))
        self._art_state = np.zeros(self.n_el)
        self._pulse_state = np.zeros((self.n_el, 3))
        self._pulse_buf = np.empty((0, 3))  # synth_background's found pulses (scratch)
        self._sweep_rng = [np.random.default_rng([p.seed & 0xFFFFFFFF, 0x5EE, k])
                           for k in range(self.n_el)]
        self._var_last: list[tuple[int, float] | None] = [None] * self.n_el  # (onset, log factor)
        self._ps_rng = [np.random.default_rng([p.seed & 0xFFFFFFFF, 0x9597, k]) for k in range(self.n_el)]
        self._active: list[tuple[int, np.ndarray]] = []
        self._next = 0
        self._state_sample = 0
        self._ttl_prev: dict[int, int] = {}
        self.pulses_delivered = 0
        # the pickup oscillator restarts at every multiple of this many absolute samples (0: at the start
        # of each respond call); the simulated DAQ sets its block size, so one call over many blocks
        # produces the samples of one call per block
        self.resync_samples = 0
        self.response_scale = None  # (electrode, t_s) -> (fEPSP, volley) factors: drivers.sim.slice_faults
        self._ahead_wanted = False  # compute_ahead(True): the background on a worker thread (unpaced DAQ)
        self._ahead: BackgroundAhead | None = None

    def warm_up(self) -> None:
        """Load (or compile) the jitted kernels on scratch arrays: the slice's state is untouched."""
        out, lp = np.empty((self.n_ai, 1)), self._lp_state.copy()
        synth_noise(0, out, self._keys, self._table, self._noise_sd, self._lp_alpha, lp, self._hum_amp, self._hum_w,
                    self._hum_phase, self._drift_f, self._drift_a, self._drift_ph, _DRIFT_STEP, self.fs, 1,
                    np.empty((self.n_ai, 1)))
        synth_artifact(0, np.zeros((self.n_el, 1)), out, self._art_gain, self._art_decay, self._art_state.copy(),
                       self._pulse_state.copy(), np.empty((1 + self.n_el, 3)))

    # --- the background ahead (drivers.sim.background) --------------------------------------------
    def compute_ahead(self, on: bool) -> None:
        """``True`` (the simulated DAQ at ``--speed max``): from the next call on the block grid,
        noise, pickup and drift are computed on a worker thread ahead of :meth:`respond` (the
        same numbers); ``False`` ends the worker."""
        self._ahead_wanted = on
        if not on:
            self._stop_ahead()

    def _stop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.stop()
            self._ahead = None

    def _background(self, start: int, out: np.ndarray) -> np.ndarray:
        """Noise + pickup + drift of [start, start + n) into ``out``, from the worker when it runs;
        returns ``out`` or, from the worker on one channel, a view of its chunk (no copy)."""
        n, grid = out.shape[1], self.resync_samples
        ahead = self._ahead
        if ahead is not None and (start != ahead.position or grid <= 0 or n % grid):
            self._stop_ahead()  # not the next samples on the grid: computed here from now on
            ahead = None
        if ahead is None and self._ahead_wanted and grid > 0 and start % grid == 0 and n % grid == 0:
            fill = functools.partial(self._fill_noise, self._keys, self._table, self._noise_sd, self._lp_alpha,
                                     self._hum_amp, self._hum_w, self._hum_phase, self._drift_f, self._drift_a,
                                     self._drift_ph, self.fs, grid)
            ahead = self._ahead = BackgroundAhead(fill, self.n_ai, start, grid, self._lp_state)
            weakref.finalize(self, ahead.stop)
        if ahead is not None:
            view = ahead.view(start, n, self._lp_state) if self.n_ai == 1 else None  # one row: C-contiguous
            if view is not None:
                return view
            ahead.take(start, out, self._lp_state)
        else:
            synth_noise(start, out, self._keys, self._table, self._noise_sd, self._lp_alpha, self._lp_state,
                        self._hum_amp, self._hum_w, self._hum_phase, self._drift_f, self._drift_a, self._drift_ph,
                        _DRIFT_STEP, self.fs, grid, _NO_YS)
        return out

    @staticmethod
    def _fill_noise(keys, table, noise_sd, lp_alpha, hum_amp, hum_w, hum_phase, drift_f, drift_a, drift_ph, fs,
                    grid, start, out, lp_state, ys) -> None:
        synth_noise(start, out, keys, table, noise_sd, lp_alpha, lp_state, hum_amp, hum_w, hum_phase, drift_f,
                    drift_a, drift_ph, _DRIFT_STEP, fs, grid, ys)

    # --- state advance ---------------------------------------------------------------------------
    def _advance_to(self, sample: int) -> None:
        if sample <= self._state_sample:
            return
        left = (sample - self._state_sample) / self.fs
        while left > 0:
            step = min(_MAX_STEP_S, left)
            self.bath.advance(step)
            self.syn.advance(step, self.bath)
            left -= step
        self._state_sample = sample

    def _evoke(self, el: int, onset: int, i_uA: float) -> None:
        p, pw = self.params, self.params.pathways[el]
        fepsp_f, fv_f = self.syn.pulse(el, i_uA, self.bath)
        var = self._variability(el, onset)
        rundown = math.exp(-p.rundown_per_h * onset / self.fs / 3600.0)
        epsp = pw.epsp_max_mV * fepsp_f * var * rundown
        fv = pw.fv_max_mV * fv_f
        if self.response_scale is not None:
            f_epsp, f_fv = self.response_scale(el, onset / self.fs)
            epsp, fv = epsp * f_epsp, fv * f_fv
        ps = self._pop_spike_mV(epsp / pw.epsp_max_mV)
        notch = None
        if ps > 0.005:  # E–S coupling: the notch comes earlier the more the fEPSP exceeds threshold
            over = min(1.0, max(0.0, epsp / pw.epsp_max_mV / p.ps_threshold_frac - 1.0))
            lat = (p.ps_latency_ms - p.ps_latency_shift_ms * over
                   + p.ps_jitter_ms * self._ps_rng[el].standard_normal())
            notch = ps * pop_spike_notch(self.kernels.n, self.fs, max(4.0, lat), p.ps_width_ms)
        self._active.append((onset, self._wave(el, fv, epsp, notch)))
        self.pulses_delivered += 1

    def _wave(self, el: int, fv: float, epsp: float, notch: np.ndarray | None) -> np.ndarray:
        """The evoked waveform (n_ai, n) of one pulse of pathway ``el`` from its volley and fEPSP
        amplitudes (mV) and population-spike notch: every recording channel sees the same shape ×
        its coupling (an MEA gives each electrode its own, :mod:`drivers.sim.mea`)."""
        k = self.kernels
        shape = fv * k.fv + epsp * k.epsp
        if notch is not None:
            shape = shape + notch
        return self._coupling[:, el:el + 1] * shape[None, :]

    def _variability(self, el: int, onset: int) -> float:
        """Pulse-to-pulse factor of pathway ``el`` (lognormal, mean 1, CV ``sweep_cv``): a slow
        fluctuation of the evoked population (Ornstein–Uhlenbeck in log, τ ``sweep_tau_s``), so
        test pulses 20 s apart vary independently while the two pulses of a pair share most of it."""
        p = self.params
        sd = math.sqrt(math.log1p(p.sweep_cv * p.sweep_cv))
        z = self._sweep_rng[el].standard_normal()
        last = self._var_last[el]
        if last is None or p.sweep_tau_s <= 0.0:  # τ 0: independent draws
            x = sd * z
        else:
            rho = math.exp(-(onset - last[0]) / self.fs / p.sweep_tau_s)
            x = rho * last[1] + math.sqrt(1.0 - rho * rho) * sd * z
        self._var_last[el] = (onset, x)
        return math.exp(x - 0.5 * sd * sd)

    def _pop_spike_mV(self, rel: float) -> float:
        """Notch depth (mV) for an fEPSP of ``rel`` × the pathway's maximum (sigmoid E–S coupling)."""
        p = self.params
        x0 = -p.ps_threshold_frac / p.ps_slope_frac
        return p.ps_max_mV * max(0.0, sigmoid(rel / p.ps_slope_frac + x0) - sigmoid(x0))

    # --- the SliceModel contract -------------------------------------------------------------------
    @property
    def output_scale(self) -> float:
        """Volts at the amplifier output per electrode mV (the gain): ``respond(..., scaled=False)`` × this."""
        return self.params.gain * 1e-3

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray, out: np.ndarray | None = None,
                scaled: bool = True) -> np.ndarray:
        """Field potential (n_ai, n) in volts at the amplifier output for samples [start, start+n)
        (into ``out``, a C-contiguous float64 (n_ai, n) array, when given; with the background
        computed ahead on one channel, the array returned may instead be a view of the worker's
        buffer, valid until the next call). ``scaled=False``: in
        electrode mV, not yet × :attr:`output_scale` (the simulated ADC applies it in its own pass;
        the product is the same float64)."""
        if start < self._next:
            raise ValueError(f"respond: start {start} overlaps samples already produced "
                             f"(next is {self._next})")
        # no current (a broadcast 0, as the simulated DAQ hands it) and no artifact or pulse going on:
        # synth_artifact would only scan zeros
        rest = (stim_uA.ndim == 2 and stim_uA.shape[1] > 0 and stim_uA.strides[1] == 0 and not stim_uA[:, :1].any()
                and not self._art_state.any() and not self._pulse_state[:, 0].any())
        stim = stim_uA if rest else np.ascontiguousarray(stim_uA, dtype=np.float64)
        n = stim.shape[1]
        if stim.shape[0] != self.n_el:
            raise ValueError(f"respond: stim has {stim.shape[0]} electrodes, slice has {self.n_el}")
        if out is None:
            out = np.empty((self.n_ai, n))
        elif out.shape != (self.n_ai, n) or out.dtype != np.float64 or not out.flags.c_contiguous:
            raise ValueError(f"respond: out must be a C-contiguous float64 array of shape {(self.n_ai, n)}")
        if self._pulse_buf.shape[0] < n + self.n_el:  # kept across calls: no fresh pages per call
            self._pulse_buf = np.empty((max(n + self.n_el, 2 * self._pulse_buf.shape[0]), 3))
        pulses = self._pulse_buf
        out = self._background(start, out)  # noise, pickup, drift (synth_background = synth_noise + synth_artifact)
        n_found = 0 if rest else synth_artifact(start, stim, out, self._art_gain, self._art_decay, self._art_state,
                                                self._pulse_state, pulses)
        events: list[tuple[int, int, int, float]] = []  # (sample, kind 0 valve / 1 pulse, idx, val)
        for j in range(n_found):
            events.append((int(pulses[j, 1]), 1, int(pulses[j, 0]), float(pulses[j, 2])))
        if ttl is not None and self.bath.valves:
            for line in self.bath.lines:
                if line >= ttl.shape[0]:
                    continue
                prev = self._ttl_prev.get(line, 0)
                if n and ttl[line, 0] == prev and ttl[line].min() == ttl[line].max():
                    continue  # the valve stayed as it was
                x = ttl[line].astype(np.int8)
                idx = np.flatnonzero(np.diff(x, prepend=np.int8(prev)))
                for i in idx:
                    events.append((start + int(i), 0, line, float(x[i])))
                if n:
                    self._ttl_prev[line] = int(x[-1])
        events.sort()
        for sample, kind, idx, val in events:
            self._advance_to(sample)
            if kind == 0:
                self.bath.set_line(idx, int(val))
            else:
                self._evoke(idx, sample, val)
        end = start + n
        keep = []
        for onset, wave in self._active:
            a = max(onset, start) - onset
            b = min(onset + wave.shape[1], end) - onset
            if b > a:
                out[:, onset + a - start:onset + b - start] += wave[:, a:b]
            if onset + wave.shape[1] > end:
                keep.append((onset, wave))
        self._active = keep
        self._next = end
        if scaled:
            out *= self.output_scale
        return out

    # --- introspection for tests and docs (never used by the measurement pipeline) -----------------
    def efficacy(self, el: int) -> float:
        """Synaptic efficacy of pathway ``el`` (1 = naive). For model tests only."""
        return self.syn.efficacy(el)

    def intensity_for(self, fraction: float, el: int = 0) -> float:
        """µA evoking ``fraction`` of pathway ``el``'s maximal fEPSP in the naive slice — what an
        experimenter reads off the I/O curve when setting the test intensity (e.g. 0.4)."""
        pw = self.params.pathways[el]
        lo, hi = 0.0, 20.0 * pw.i50_epsp_uA
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if recruitment(mid, pw.i50_epsp_uA, pw.slope_uA) < fraction:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


def make_slice(sample_rate_hz: float, n_electrodes: int, seed: int, *, genotype: str = "WT",
               electrode: str = "concentric", gain: float = 1000.0, valves=(),
               bath: dict[str, float] | None = None, n_ai: int = 1,
               pre_incubated: dict[str, tuple[float, float]] | None = None, **overrides: float
               ) -> RealisticSlice:
    """A realistic slice for SimDevice.

    ``n_electrodes`` stimulating electrodes (one pathway each, all converging on the recording
    site), ``n_ai`` recording channels, ``seed`` draws the slice. ``genotype``: WT | Fmr1-KO |
    mGluR5-KO. ``electrode``: concentric | tungsten (I/O presets). ``gain``: amplifier gain.
    ``valves``: (DO line, drug, µM) perfusion reservoirs, open while the line is high.
    ``bath``: {drug: µM} present (pre-incubated, at equilibrium) from the start.
    ``pre_incubated``: {drug: (µM, s)} the slice sat in before the recording (binding kinetics
    after that time; the drug stays only while a valve or ``bath`` carries it).
    ``overrides``: population means of any :class:`SliceParams` field (docs/simulation.md).
    """
    p = draw_slice_params(sample_rate_hz, n_electrodes, seed, genotype=genotype,
                          electrode=electrode, gain=gain, n_ai=n_ai, **overrides)
    return RealisticSlice(p, valves=valves, bath=bath, pre_incubated=pre_incubated)
