"""Parameters of the virtual slice: defaults, electrode presets, genotypes, slice-to-slice draws.

Every number here is listed with its source in ``docs/simulation.md``. Units are in the names
(``_ms``, ``_s``, ``_uA``, ``_mV``, ``_uV``, ``_Hz``, ``_nM``, ``_uM``). A *slice seed* draws one
:class:`SliceParams` (per-slice values) and one :class:`PathwayParams` per stimulating electrode
from documented distributions, so a group of simulated slices shows a realistic spread.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

GENOTYPES = ("WT", "Fmr1-KO", "mGluR5-KO")
FV_MAX_MEAN_MV = 0.14  # maximal fiber volley (CV 70 %): ≈ −0.05 mV typical at test intensity


@dataclass(frozen=True)
class ElectrodePreset:
    """Stimulating-electrode type: where its input–output curves sit on the µA axis."""

    i50_fiber_uA: float  # intensity recruiting half of the fibres (fiber-volley sigmoid)
    slope_uA: float  # sigmoid width (µA per e-fold)
    i50_epsp_ratio: float  # fEPSP I50 / fiber I50 (synaptic recruitment lags the volley a little)
    artifact_mV_per_uA: float  # electrode-referred artifact per µA (clips a ±10 mV input range)


ELECTRODES: dict[str, ElectrodePreset] = {
    # concentric bipolar (FHC CBARC75): half-max ~150 µA, max 400–900 µA
    "concentric": ElectrodePreset(150.0, 40.0, 1.05, 0.15),
    # fine tungsten / monopolar glass: half-max ~25 µA, max 50–100 µA
    "tungsten": ElectrodePreset(25.0, 7.0, 1.05, 0.9),
}


@dataclass(frozen=True)
class PathwayParams:
    """One stimulating electrode's pathway onto the recording site (drawn per slice)."""

    i50_fiber_uA: float
    slope_uA: float
    i50_epsp_uA: float
    epsp_max_mV: float  # maximal fEPSP amplitude (trough) of this pathway, mV (positive number)
    fv_max_mV: float  # maximal fiber-volley amplitude, mV (positive number)
    artifact_mV_per_uA: float
    stp_U: float  # Tsodyks–Markram baseline release probability
    gamma_p_scale: float  # slice/pathway scaling of the potentiation rate
    gamma_d_scale: float  # scaling of the depression rate


@dataclass(frozen=True)
class SliceParams:
    """All per-slice parameters. Defaults are the population means; see docs/simulation.md."""

    sample_rate_hz: float = 20000.0
    gain: float = 1000.0
    genotype: str = "WT"
    electrode: str = "concentric"
    n_ai: int = 1
    # --- waveform (ms, mV) ---------------------------------------------------------------
    fv_latency_ms: float = 1.9  # fiber-volley trough after the stimulus onset
    fv_width_ms: float = 0.28  # Gaussian sigma of the volley's negative phase
    epsp_onset_ms: float = 3.1  # synaptic onset (before latency dispersion)
    epsp_rise_ms: float = 1.0  # rise time constant of the difference of exponentials
    epsp_decay_ms: float = 14.0  # decay time constant (PRACTICE: 13–17 ms)
    epsp_dispersion_ms: float = 0.3  # sigma of the latency dispersion (smooth foot)
    ps_latency_ms: float = 6.5  # population-spike notch at threshold (earlier with more drive)
    ps_latency_shift_ms: float = 1.5  # latency shortening from threshold to twice the threshold
    ps_width_ms: float = 0.35  # sigma of the notch (a Mexican-hat: positive flanks)
    ps_jitter_ms: float = 0.15  # sweep-to-sweep latency jitter (SD)
    ps_max_mV: float = 0.8  # maximal notch depth in stratum radiatum
    ps_threshold_frac: float = 1.0  # notch appears above this fraction of epsp_max (drawn)
    ps_slope_frac: float = 0.04  # sigmoid width of the E–S coupling (fraction of epsp_max)
    artifact_tau_ms: float = 0.1  # decay of the stimulus artifact after the pulse
    # --- noise (electrode referred) --------------------------------------------------------
    noise_uV: float = 22.0  # RMS of the wide-band noise
    noise_corner_hz: float = 8000.0  # amplifier low-pass (first order) on the noise
    line_hz: float = 50.0
    line_uV: float = 6.0  # 50/60 Hz pickup amplitude (fundamental)
    drift_uV: float = 25.0  # RMS of the slow 1/f baseline drift
    sweep_cv: float = 0.050  # intrinsic pulse-to-pulse CV of the fEPSP (noise adds the rest)
    sweep_tau_s: float = 1.0  # correlation time of that variability (pairs share it, 20 s apart do not)
    rundown_per_h: float = 0.010  # fractional loss of the evoked response per hour
    # --- short-term plasticity (Tsodyks–Markram with facilitation) + PTP -------------------
    stp_tau_f_s: float = 0.18
    stp_tau_d_s: float = 0.25
    ptp_step: float = 0.02  # augmentation per pulse
    ptp_max: float = 1.5
    ptp_tau_s: float = 60.0
    # --- calcium rule (Graupner & Brunel 2012 form, event driven) --------------------------
    ca_tau_s: float = 0.020  # fast NMDA-calcium pool
    ca_slow_tau_s: float = 2.0  # slow, low-level calcium pool (phosphatase pathway)
    dep_tau_s: float = 0.040  # postsynaptic depolarization trace (NMDA unblock)
    nmda_beta: float = 1.5  # supralinearity of calcium with depolarization
    nmda_sat: float = 0.5  # NMDA-receptor occupancy saturation (in units of baseline release)
    nmda_inact_ca: float = 200.0  # slow-pool calcium that halves NMDA calcium influx (inactivation)
    theta_p: float = 4.0  # potentiation threshold (fast pool)
    theta_d: float = 1.5  # depression threshold (slow pool)
    gamma_p_per_s: float = 1.8
    gamma_d_per_s: float = 4.5e-4  # per θd of slow calcium (rate ∝ level, capped)
    rho_star: float = 0.5
    early_tau_min: float = 60.0  # decay of the early phase once its maintenance has run down
    early_maint_tau_min: float = 120.0  # maintenance of the early phase (E-LTP lasts 1–3 h)
    ltp_ceiling: float = 2.0  # early potentiation that saturates expression (occlusion)
    late_ceiling: float = 0.8  # consolidated potentiation that leaves no room for more
    ltd_level_cap: float = 2.5  # depression rate ∝ slow calcium up to this many θd (saturates)
    maint_mglur_sat: float = 0.3  # mGluR5 activation that fully sets the early maintenance switch
    maint_theta_s: float = 0.15  # … or this much supra-θp calcium time (s, within ~10 min) alone
    maint_width_s: float = 0.05
    early_ltp_max: float = 1.0  # fractional potentiation at rho = 1
    early_ltd_max: float = 0.6  # fractional depression at rho = 0
    # --- late phase (synaptic tagging and capture, Frey & Morris 1997; Clopath 2008) -------
    tag_threshold: float = 0.10  # |early change| that sets a tag
    tag_tau_min: float = 90.0
    strong_theta_s: float = 0.7  # potentiation time (s, within ~10 min) that triggers PRP
    strong_width_s: float = 0.15
    strong_tau_min: float = 10.0
    prp_rate_per_min: float = 0.5
    strong_ltd_theta_s: float = 200.0  # s of supra-θd slow calcium that trigger late-LTD PRP
    strong_ltd_width_s: float = 50.0
    prp_tau_min: float = 60.0
    prp_mglur5_frac: float = 0.9  # share of PRP synthesis that needs mGluR5 signalling
    capture_rate_per_min: float = 0.1
    capture_fraction: float = 1.0  # share of the tagged early change converted (≤ 1)
    # --- mGluR5 -----------------------------------------------------------------------------
    mglur5_expression: float = 1.0  # 0 in mGluR5-KO
    glu_step: float = 1.0  # spillover glutamate per pulse (release-scaled)
    glu_tau_s: float = 0.3
    glu_k: float = 3.0  # half-activation of mGluR5 by spillover (in pulses)
    glu_hill: float = 6.0
    dhpg_ec50_uM: float = 10.0
    mglur_nmda_boost: float = 0.6  # mGluR5 potentiation of NMDA calcium during trains
    mglur_ltd_frac: float = 0.35  # mGluR5-dependent share of the LFS depression rate
    mglur_ltp_max: float = 0.12  # mGluR5-dependent share of early LTP (Lu et al. 1997)
    mglur_ltp_rate_per_s: float = 2.0
    mglur_lag_s: float = 30.0  # G-protein lag of the acute depression and LTD drive
    acute_depression: float = 0.45  # acute fEPSP depression at full mGluR5 activation
    translation_rate_per_s: float = 0.3  # mGluR5 → translation signal (late-LTP PRPs)
    translation_tau_min: float = 10.0
    mltd_gain: float = 1.0  # lab / age scaling of the early DHPG-LTD (1 = Huber et al. 2002)
    mltd_scale: float = 1.0  # slice-to-slice scaling of all mGluR-LTD (drawn, CV 50 %)
    mltd_early_max: float = 0.20
    mltd_early_rate_per_min: float = 0.33
    mltd_early_tau_min: float = 40.0
    mltd_late_max: float = 0.30
    mltd_late_rate_per_min: float = 0.087
    ltdp_rate_per_min: float = 0.05  # LTD-protein synthesis (Arc, STEP, MAP1B) per activation
    ltdp_tau_min: float = 30.0
    fmrp_free_ltdp: float = 0.0  # constitutive LTD proteins (Fmr1-KO: FMRP absent)
    # --- pathways (drawn) -------------------------------------------------------------------
    pathways: tuple[PathwayParams, ...] = ()
    coupling: tuple[tuple[float, ...], ...] = ()  # (n_ai, n_el) recording-site coupling
    seed: int = 0
    extra: dict = field(default_factory=dict)


GENOTYPE_OVERRIDES: dict[str, dict[str, float]] = {
    "WT": {},
    # Fmr1-KO: FMRP absent → LTD proteins constitutively available, exaggerated and
    # protein-synthesis-independent mGluR-LTD (Huber 2002; Nosyreva & Huber 2006).
    "Fmr1-KO": {"fmrp_free_ltdp": 1.0},
    "mGluR5-KO": {"mglur5_expression": 0.0},
}


def _lognormal(rng: np.random.Generator, mean: float, cv: float) -> float:
    """A positive draw with the given mean and coefficient of variation."""
    s2 = np.log1p(cv * cv)
    return float(mean * np.exp(rng.normal(-0.5 * s2, np.sqrt(s2))))


def draw_slice_params(
    sample_rate_hz: float,
    n_electrodes: int,
    seed: int,
    *,
    genotype: str = "WT",
    electrode: str = "concentric",
    gain: float = 1000.0,
    n_ai: int = 1,
    **overrides: float,
) -> SliceParams:
    """Draw one slice's parameters from the documented distributions (deterministic per seed).

    ``overrides`` replace the *population mean* of any :class:`SliceParams` field; drawn fields
    are still drawn around it (a mean of 0 stays 0). Unknown names raise ``ValueError``.
    """
    if genotype not in GENOTYPES:
        raise ValueError(f"genotype: unknown {genotype!r} (one of {', '.join(GENOTYPES)})")
    if electrode not in ELECTRODES:
        raise ValueError(f"electrode: unknown {electrode!r} (one of {', '.join(ELECTRODES)})")
    if n_electrodes < 1 or n_ai < 1:
        raise ValueError("n_electrodes and n_ai must be >= 1")
    names = {f.name for f in dataclasses.fields(SliceParams)}
    base = dict(GENOTYPE_OVERRIDES[genotype])
    for k, v in overrides.items():
        if k not in names or k in ("pathways", "coupling", "seed", "extra"):
            raise ValueError(f"slice override: unknown parameter {k!r}")
        base[k] = v
    p = SliceParams(sample_rate_hz=float(sample_rate_hz), gain=float(gain), genotype=genotype,
                    electrode=electrode, n_ai=int(n_ai), seed=int(seed), **base)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x511CE])
    def vary(name: str, cv: float, lo: float = 0.0, hi: float = np.inf) -> float:
        """Draw around the (possibly overridden) mean; clip to [lo, hi] if the mean is inside."""
        mean = getattr(p, name)
        v = _lognormal(rng, 1.0, cv) * mean  # always draw: the sequence never depends on means
        return float(np.clip(v, lo, hi)) if lo <= mean <= hi else v

    drawn = {
        "noise_uV": vary("noise_uV", 0.15, 20.0, 35.0),
        "line_uV": vary("line_uV", 0.4, 1.0, 12.0),
        "drift_uV": vary("drift_uV", 0.4),
        "sweep_cv": vary("sweep_cv", 0.15, 0.035, 0.07),
        "rundown_per_h": float(max(0.0, rng.normal(p.rundown_per_h, 0.010))),
        "epsp_decay_ms": vary("epsp_decay_ms", 0.08, 12.0, 17.0),
        "fv_latency_ms": vary("fv_latency_ms", 0.08, 1.6, 2.4),
        "epsp_onset_ms": vary("epsp_onset_ms", 0.05, 2.8, 3.4),
        "gamma_p_per_s": vary("gamma_p_per_s", 0.35),
        "gamma_d_per_s": vary("gamma_d_per_s", 0.3),
        "mltd_gain": vary("mltd_gain", 0.45),
        "mltd_late_rate_per_min": vary("mltd_late_rate_per_min", 0.35),
        "mltd_scale": vary("mltd_scale", 0.5, 0.0, 3.0),
        "capture_fraction": vary("capture_fraction", 0.08, 0.7, 1.0),
        "early_tau_min": vary("early_tau_min", 0.25),
    }
    ep = ELECTRODES[electrode]
    pws = []
    for _ in range(n_electrodes):
        i50 = _lognormal(rng, ep.i50_fiber_uA, 0.25)
        pws.append(PathwayParams(
            i50_fiber_uA=i50,
            slope_uA=_lognormal(rng, ep.slope_uA, 0.15),
            i50_epsp_uA=i50 * ep.i50_epsp_ratio,
            epsp_max_mV=float(np.clip(_lognormal(rng, 1.4, 0.3), 0.6, 2.5)),
            fv_max_mV=float(np.clip(_lognormal(rng, FV_MAX_MEAN_MV, 0.7), 0.03, 0.6)),
            artifact_mV_per_uA=_lognormal(rng, ep.artifact_mV_per_uA, 0.2),
            stp_U=float(np.clip(rng.normal(0.15, 0.02), 0.10, 0.21)),
            gamma_p_scale=1.0,
            gamma_d_scale=1.0,
        ))
    coupling = [tuple(1.0 for _ in range(n_electrodes))]
    for _ in range(1, n_ai):
        coupling.append(tuple(float(rng.uniform(0.3, 1.0)) for _ in range(n_electrodes)))
    drawn["early_maint_tau_min"] = vary("early_maint_tau_min", 0.2)  # drawn last: earlier draws unchanged
    drawn["ps_threshold_frac"] = vary("ps_threshold_frac", 0.12, 0.95, 1.4)
    drawn["ps_max_mV"] = vary("ps_max_mV", 0.4, 0.2, 2.0)
    drawn["ps_latency_ms"] = vary("ps_latency_ms", 0.08, 5.5, 8.0)
    return dataclasses.replace(p, pathways=tuple(pws), coupling=tuple(coupling), **drawn)
