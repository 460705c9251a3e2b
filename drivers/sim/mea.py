"""A virtual slice on a multi-electrode array (MEA mode): one slice, up to 64 recording electrodes.

The slice is :class:`drivers.sim.slice.RealisticSlice` — one set of synapses per stimulating
electrode, so every recording electrode shares the slice's plasticity (and its pulse-to-pulse
variability): what differs from electrode to electrode is *where* it sits. The array lies on CA1
with stratum pyramidale along the x axis (left–right), stratum radiatum below it (larger y), the
Schaffer collaterals running left–right through radiatum. A stimulating electrode activates a
beam of fibres; a recording electrode at (dx, dy) from it (µm) sees

* **fEPSP** (current sink) × ``exp(−|dx| / FIBRE_LAMBDA_UM)`` × a Gaussian across the layers
  centred on radiatum (σ ``RADIATUM_SIGMA_UM``) minus ``SOURCE_FRACTION`` × a Gaussian on
  pyramidale ``PYRAMIDALE_UM`` above it: in pyramidale the field reverses (a positive source), far
  along the fibres it fades into the noise;
* **fiber volley** × ``exp(−|dx| / VOLLEY_LAMBDA_UM)`` × a Gaussian across layers (σ ``VOLLEY_SIGMA_UM``);
* **latency** + |dx| / ``CONDUCTION_UM_PER_MS`` (volley, fEPSP and spike alike);
* its own **contact gain** (lognormal, CV ``CONTACT_CV``), **noise** (``NOISE_UV_MEAN`` ± CV
  ``NOISE_CV``, clipped to ``NOISE_UV_RANGE``) and **artifact** (× (pitch / distance)^1.5, capped:
  the stimulating electrode itself saturates);
* and none at all beyond the **slice edge**: a straight cut ``EDGE_PITCHES`` pitches from the
  stimulating electrode in a random direction (off-tissue electrodes record noise only).

Everything is drawn from the seed (``[seed, 0x3EA]``, apart from the slice's own draws), so the
same seed gives the same slice; the slice's own parameters (plasticity, I/O curve) are those of a
single-electrode slice of that seed. Units as in :mod:`drivers.sim.slice` (mV at the electrode,
µm, ms); output in volts at the amplifier.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from drivers.sim.slice import RealisticSlice
from drivers.sim.slice_params import draw_slice_params

FIBRE_LAMBDA_UM = 350.0  # fEPSP decay along the fibres from the stimulating electrode
RADIATUM_SIGMA_UM = 170.0  # half-width (σ) of the sink across the layers
RADIATUM_OFFSET_SD_UM = 40.0  # the stimulating electrode sits this close to mid-radiatum (SD)
PYRAMIDALE_UM = 260.0  # stratum pyramidale above mid-radiatum
SOURCE_FRACTION = 0.35  # the reversed (source) field in pyramidale, relative to the sink
VOLLEY_LAMBDA_UM = 500.0
VOLLEY_SIGMA_UM = 250.0
CONDUCTION_UM_PER_MS = 400.0  # Schaffer collaterals, 0.4 m/s
CONTACT_CV = 0.15
NOISE_UV_MEAN = 14.0  # planar MEA electrodes, 20 kHz bandwidth
NOISE_CV = 0.25
NOISE_UV_RANGE = (8.0, 35.0)
ARTIFACT_MAX = 4.0  # artifact gain at the stimulating electrode (× the slice's artifact per µA)
EDGE_PITCHES = (3.0, 6.0)  # slice edge: this far (pitches) from the stimulating electrode


@dataclass(frozen=True)
class Electrodes:
    """What each recording electrode sees of each stimulating electrode: (n_ai, n_el) factors
    (fEPSP sign included) and latency shifts (samples); ``noise_uV`` (n_ai,); ``on_tissue`` (n_ai,)."""

    fepsp: np.ndarray
    volley: np.ndarray
    shift: np.ndarray
    artifact: np.ndarray
    noise_uV: np.ndarray
    on_tissue: np.ndarray


def draw_electrodes(xy_um: np.ndarray, stim_xy_um: np.ndarray, pitch_um: float, fs: float,
                    seed: int) -> Electrodes:
    """The spatial gradient of one slice on the array (deterministic per ``seed``)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x3EA])
    xy = np.asarray(xy_um, dtype=float).reshape(-1, 2)
    st = np.asarray(stim_xy_um, dtype=float).reshape(-1, 2)
    n, m = xy.shape[0], st.shape[0]
    contact = np.exp(rng.normal(-0.5 * math.log1p(CONTACT_CV ** 2), math.sqrt(math.log1p(CONTACT_CV ** 2)), n))
    s2 = math.log1p(NOISE_CV ** 2)
    noise = np.clip(NOISE_UV_MEAN * np.exp(rng.normal(-0.5 * s2, math.sqrt(s2), n)), *NOISE_UV_RANGE)
    fepsp, volley = np.zeros((n, m)), np.zeros((n, m))
    shift, artifact = np.zeros((n, m), dtype=np.int64), np.zeros((n, m))
    on = np.ones(n, bool)
    for k in range(m):
        y_rad = st[k, 1] + rng.normal(0.0, RADIATUM_OFFSET_SD_UM)
        theta = rng.uniform(0.0, 2 * math.pi)
        edge = rng.uniform(*EDGE_PITCHES) * pitch_um
        dx = np.abs(xy[:, 0] - st[k, 0])
        dy = xy[:, 1] - y_rad
        across = np.exp(-0.5 * (dy / RADIATUM_SIGMA_UM) ** 2) \
            - SOURCE_FRACTION * np.exp(-0.5 * ((dy + PYRAMIDALE_UM) / RADIATUM_SIGMA_UM) ** 2)
        beyond = (xy - st[k]) @ np.array([math.cos(theta), math.sin(theta)]) > edge
        on &= ~beyond
        fepsp[:, k] = contact * np.exp(-dx / FIBRE_LAMBDA_UM) * across
        volley[:, k] = contact * np.exp(-dx / VOLLEY_LAMBDA_UM) * np.exp(-0.5 * (dy / VOLLEY_SIGMA_UM) ** 2)
        shift[:, k] = np.rint(dx / CONDUCTION_UM_PER_MS * fs / 1000.0).astype(np.int64)
        d = np.hypot(*(xy - st[k]).T)
        artifact[:, k] = np.minimum(ARTIFACT_MAX, (pitch_um / np.maximum(d, 1.0)) ** 1.5)
    fepsp[~on] = 0.0
    volley[~on] = 0.0
    return Electrodes(fepsp, volley, shift, artifact, noise, on)


def _shifted(shape: np.ndarray, shift: np.ndarray, gain: np.ndarray, n_out: int) -> np.ndarray:
    """(len(shift), n_out): row i = gain[i] × ``shape`` delayed by shift[i] samples."""
    out = np.zeros((shift.size, n_out))
    for i, (s, g) in enumerate(zip(shift, gain, strict=True)):
        if g != 0.0:
            out[i, s:s + shape.size] = g * shape
    return out


class MEASlice(RealisticSlice):
    """A :class:`RealisticSlice` recorded on an array: one AI row per electrode (``xy_um`` in AI
    order), each with its own fEPSP, volley, latency, noise and artifact (:func:`draw_electrodes`)."""

    def __init__(self, params, electrodes: Electrodes, valves=(), bath: dict[str, float] | None = None,
                 pre_incubated: dict[str, tuple[float, float]] | None = None) -> None:
        super().__init__(params, valves=valves, bath=bath, pre_incubated=pre_incubated)
        e = self.electrodes = electrodes
        alpha = self._lp_alpha
        self._noise_sd = e.noise_uV * 1e-3 * math.sqrt((2 - alpha) / alpha)
        self._hum_phase[:] = self._hum_phase[0]  # one bath ground: the pickup is common to every electrode
        self._art_gain = e.artifact * np.array([pw.artifact_mV_per_uA for pw in params.pathways])[None, :]
        k = self.kernels
        self._n_wave = k.n + int(e.shift.max(initial=0))
        self._fv = [_shifted(k.fv, e.shift[:, el], e.volley[:, el], self._n_wave) for el in range(self.n_el)]
        self._ep = [_shifted(k.epsp, e.shift[:, el], e.fepsp[:, el], self._n_wave) for el in range(self.n_el)]

    def _wave(self, el: int, fv: float, epsp: float, notch: np.ndarray | None) -> np.ndarray:
        w = fv * self._fv[el] + epsp * self._ep[el]
        if notch is not None:
            e = self.electrodes
            w += _shifted(notch, e.shift[:, el], np.abs(e.fepsp[:, el]), self._n_wave)
        return w


def make_mea_slice(sample_rate_hz: float, n_electrodes: int, seed: int, xy_um, stim_xy_um, pitch_um: float, *,
                   genotype: str = "WT", electrode: str = "concentric", gain: float = 1000.0, valves=(),
                   bath: dict[str, float] | None = None, pre_incubated: dict[str, tuple[float, float]] | None = None,
                   **overrides: float) -> MEASlice:
    """An MEA slice for SimDevice: ``n_electrodes`` stimulating electrodes at ``stim_xy_um``
    (n_electrodes, 2), one recording row per position of ``xy_um`` (n_ai, 2), µm on the array.
    The other arguments as :func:`drivers.sim.slice.make_slice`."""
    xy = np.asarray(xy_um, dtype=float).reshape(-1, 2)
    p = draw_slice_params(sample_rate_hz, n_electrodes, seed, genotype=genotype, electrode=electrode, gain=gain,
                          n_ai=1, **overrides)
    p = dataclasses.replace(p, n_ai=xy.shape[0], coupling=tuple((1.0,) * n_electrodes for _ in range(xy.shape[0])))
    el = draw_electrodes(xy, stim_xy_um, pitch_um, float(sample_rate_hz), seed)
    return MEASlice(p, el, valves=valves, bath=bath, pre_incubated=pre_incubated)
