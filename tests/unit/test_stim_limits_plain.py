"""The stimulus limit checks are plain Python (``rig check`` loads no numpy): on random stimuli,
hostile ones included, they find the same problems with the same messages as the numpy code they
replaced (kept here as the reference), and check_spacing raises the same errors."""

from __future__ import annotations

import numpy as np
import pytest

from rig.core.plan import Stimulus
from rig.stimulus import LimitExceeded, StimLimits, check_spacing, stimulus_problems

LIMITS = StimLimits(max_intensity_uA=500.0, max_width_us=400.0, max_frequency_hz=150.0, max_train_s=2.0,
                    max_charge_uC=0.1)


def _problems_numpy(stim: Stimulus, intensity_uA: float, fs: float, limits: StimLimits) -> list[tuple[str, str]]:
    """The numpy version of stimulus_problems (main before issue 20)."""
    out = []
    width_us = stim.width_samples / fs * 1e6
    if not np.isfinite(intensity_uA) or abs(intensity_uA) > limits.max_intensity_uA:
        out.append(("intensity", f"intensity {intensity_uA:g} µA exceeds the rig limit of "
                                 f"{limits.max_intensity_uA:g} µA"))
    if stim.width_samples < 1 or width_us > limits.max_width_us + 1e-9:
        out.append(("width", f"pulse width {width_us:.0f} µs outside 1 sample..{limits.max_width_us:g} µs"))
    charge_uC = abs(intensity_uA) * width_us * 1e-6
    if not charge_uC <= limits.max_charge_uC + 1e-12:
        out.append(("charge", f"charge {charge_uC:.4g} µC per pulse phase ({intensity_uA:g} µA × "
                              f"{width_us:.0f} µs) exceeds the rig limit of {limits.max_charge_uC:g} µC"))
    if stim.n_pulses > 1:
        isi = np.diff(np.asarray(stim.pulse_offsets))
        if np.any(isi <= stim.width_samples * (2 if stim.biphasic else 1)):
            out.append(("overlap", "pulses of a train overlap (interval not longer than the pulse)"))
        pos = isi[isi > 0]
        if pos.size and fs / pos.min() > limits.max_frequency_hz + 1e-9:
            out.append(("frequency", f"pulse frequency {fs / pos.min():.4g} Hz exceeds the rig limit of "
                                     f"{limits.max_frequency_hz:g} Hz"))
        train_s = stim.pulse_offsets[-1] / fs
        if train_s > limits.max_train_s + 1e-9:
            out.append(("train", f"train of {train_s:.4g} s exceeds the rig limit of {limits.max_train_s:g} s"))
    return out


def _spacing_numpy(onsets: list[int], pulse_samples: int, fs: float, limits: StimLimits) -> tuple[str, str] | None:
    o = np.asarray(onsets, dtype=np.int64)
    if o.size < 2:
        return None
    d = np.diff(np.sort(o))
    if np.any(d <= pulse_samples):
        return "overlap", "pulses of different stimuli overlap on one output"
    if fs / d.min() > limits.max_frequency_hz + 1e-9:
        return "frequency", (f"pulse frequency {fs / d.min():.4g} Hz (pulses {d.min() / fs * 1e3:.4g} ms apart) "
                             f"exceeds the rig limit of {limits.max_frequency_hz:g} Hz")
    return None


def _random_stimulus(rng: np.random.Generator) -> Stimulus:
    n = int(rng.choice([1, 2, 3, 5, 20, 100]))
    gap = int(rng.choice([0, 1, 2, 4, 50, 133, 134, 200, 2000]))
    offs = np.cumsum(np.r_[0, rng.integers(max(0, gap - 3), gap + 4, n - 1)])
    if rng.random() < 0.2:
        offs = rng.permutation(offs)  # hostile: unsorted, negative intervals
    return Stimulus(sample=int(rng.integers(0, 10**6)), pathway=0, kind="train",
                    pulse_offsets=tuple(int(x) for x in offs), width_samples=int(rng.choice([0, 1, 2, 4, 8, 9])),
                    biphasic=bool(rng.random() < 0.5))


@pytest.mark.parametrize("seed", range(5))
def test_stimulus_problems_as_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    intensities = [0.0, 1.0, -80.0, 150.0, 499.999, 500.0, 500.0001, 1e6, float("nan"), float("inf"), -float("inf")]
    for _ in range(400):
        stim = _random_stimulus(rng)
        uA = float(rng.choice(intensities)) if rng.random() < 0.5 else float(rng.uniform(-600, 600))
        fs = float(rng.choice([10_000.0, 20_000.0, 50_000.0]))
        got = [(p.quantity, str(p)) for p in stimulus_problems(stim, uA, fs, LIMITS)]
        assert got == _problems_numpy(stim, uA, fs, LIMITS), (stim, uA, fs)


@pytest.mark.parametrize("seed", range(5))
def test_check_spacing_as_the_numpy_reference(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(400):
        n = int(rng.choice([0, 1, 2, 3, 10, 300]))
        onsets = [int(x) for x in rng.integers(0, int(rng.choice([5, 500, 10**6])), n)]
        pulse, fs = int(rng.choice([1, 2, 4, 8])), float(rng.choice([10_000.0, 20_000.0]))
        want = _spacing_numpy(onsets, pulse, fs, LIMITS)
        try:
            check_spacing(onsets, pulse, fs, LIMITS)
            got = None
        except LimitExceeded as exc:
            got = (exc.quantity, str(exc))
        assert got == want, (onsets, pulse, fs)
