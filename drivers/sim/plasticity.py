"""Synaptic state of each pathway: short-term plasticity, calcium rule, late phase, mGluR5.

Event driven: :meth:`Synapses.advance` moves every state variable forward by ``dt`` seconds in
closed form (exponential decays, the time a decaying calcium pool spends above a threshold,
piecewise-linear ODE solutions), and :meth:`Synapses.pulse` applies one presynaptic pulse.
Between events nothing is integrated sample by sample.

Early phase (Graupner & Brunel 2012 form): ``dρ/dt = γp(1−ρ)·[c>θp] − γd·ρ·[s>θd] + (ρ*−ρ)/τe``
with a fast NMDA-calcium pool ``c`` (supralinear with the depolarization trace, boosted by
mGluR5 during trains) and a slow low-level pool ``s`` (rate dependence of LFS-LTD).
Late phase (tag and capture): a tag is set where the early change exceeds a threshold;
plasticity-related proteins (PRP) are made after strong induction (≥ ~1 s of calcium above θp
within minutes) or by mGluR5-driven translation, blocked by anisomycin; tagged synapses capture
a fraction of their early change as a persistent late component.
mGluR-LTD: mGluR5 activation (bath DHPG, synaptic spillover in trains) × (1 − NAM bound) gives
an acute depression, a protein-synthesis-independent early LTD that decays, and a persistent
LTD that needs LTD proteins (synthesised on activation in WT; constitutive in Fmr1-KO).
"""

from __future__ import annotations

import math

from drivers.sim.pharmacology import Bath
from drivers.sim.slice_params import PathwayParams, SliceParams


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def recruitment(i_uA: float, i50: float, slope: float) -> float:
    """Fraction of the pathway recruited at ``i_uA`` (Boltzmann sigmoid, 0 at 0 µA)."""
    if i_uA <= 0:
        return 0.0
    f0 = sigmoid(-i50 / slope)
    return max(0.0, (sigmoid((i_uA - i50) / slope) - f0) / (1.0 - f0))


def _relax(x: float, a: float, b: float, dt: float) -> float:
    """Exact solution of dx/dt = a − b·x after dt (b >= 0)."""
    if b <= 0:
        return x + a * dt
    xi = a / b
    return xi + (x - xi) * math.exp(-b * dt)


def _time_above(x0: float, theta: float, tau: float, dt: float) -> float:
    """Time an exponential decay from x0 (time constant tau) stays above theta, capped at dt."""
    if x0 <= theta or theta <= 0:
        return 0.0 if x0 <= theta else dt
    return min(dt, tau * math.log(x0 / theta))


def _mean_capped(x0: float, theta: float, cap: float, tau: float, t_above: float) -> float:
    """Mean of min(x, cap) while an exponential decay from x0 (time constant tau) stays above
    theta, over its first ``t_above`` seconds."""
    if t_above <= 0.0:
        return 0.0
    x1 = max(theta, x0 * math.exp(-t_above / tau))
    if x0 <= cap:
        return tau * (x0 - x1) / t_above
    t_c = min(t_above, tau * math.log(x0 / cap))
    if t_above <= t_c:
        return cap
    return (cap * t_c + tau * (cap - x1)) / t_above


class PathwayState:
    """Mutable per-pathway variables."""

    __slots__ = ("u", "R", "aug", "c", "s", "V", "g", "rho", "tag", "z", "ye", "yl", "mbar",
                 "m_now", "maint", "pi")

    def __init__(self, rho_star: float) -> None:
        self.u = 0.0
        self.R = 1.0
        self.aug = 0.0
        self.c = self.s = self.V = self.g = 0.0
        self.rho = rho_star
        self.tag = self.z = self.ye = self.yl = self.mbar = self.m_now = 0.0
        self.maint = 0.0  # early-phase maintenance (kinase activity), 1 right after induction
        self.pi = 0.0  # mGluR5-dependent early potentiation (fraction), Lu et al. 1997


class Synapses:
    """All pathways of one slice plus the slice-wide protein pools."""

    def __init__(self, p: SliceParams) -> None:
        self.p = p
        self.pw: tuple[PathwayParams, ...] = p.pathways
        self.st = [PathwayState(p.rho_star) for _ in p.pathways]
        self.psi = 0.0  # strong-induction signal (s of supra-θp calcium, decaying)
        self.psi_d = 0.0  # prolonged-depression signal (s of supra-θd slow calcium, decaying)
        self.phi = 0.0  # mGluR5-driven translation signal
        self.prp = 0.0  # plasticity-related proteins (late LTP/LTD capture)
        self.ltdp = 0.0  # LTD proteins (mGluR-LTD persistence)
        self.t = 0.0  # s

    # --- read-outs -----------------------------------------------------------------------------
    def early(self, k: int) -> float:
        """Early-phase fractional change of pathway k (from ρ)."""
        p, r = self.p, self.st[k].rho
        if r >= p.rho_star:
            return p.early_ltp_max * (r - p.rho_star) / (1.0 - p.rho_star)
        return p.early_ltd_max * (r - p.rho_star) / p.rho_star

    def efficacy(self, k: int) -> float:
        """Synaptic efficacy of pathway k relative to the naive slice (1 = baseline)."""
        st, p = self.st[k], self.p
        w = (1.0 + self.early(k) + st.pi + st.z) * (1.0 - st.ye - st.yl) * (1.0 - p.acute_depression
                                                                       * st.mbar)
        return max(w, 0.02)

    # --- continuous evolution --------------------------------------------------------------------
    def advance(self, dt: float, bath: Bath) -> None:
        """Advance all state by ``dt`` seconds (closed form; inputs held at their current value)."""
        if dt <= 0:
            return
        p = self.p
        nam = bath.nam_block()
        expr = p.mglur5_expression * (1.0 - nam)
        x_d = bath.agonist()
        psb = bath.ps_block()
        m_max = 0.0
        mbar_max = 0.0
        psi_add = 0.0
        e_tau = p.early_tau_min * 60.0
        psid_add = 0.0
        for k, st in enumerate(self.st):
            # fast calcium pools and the early-phase variable rho (piecewise exact); the early
            # change decays only as its maintenance (kinase activity) runs down
            # occlusion: expression slots saturate, and consolidated (captured) LTP occupies them
            head = max(0.0, 1.0 - max(0.0, self.early(k) + st.pi) / p.ltp_ceiling
                       - max(0.0, st.z) / p.late_ceiling)
            gp = p.gamma_p_per_s * self.pw[k].gamma_p_scale * head
            gd = p.gamma_d_per_s * self.pw[k].gamma_d_scale * (1.0 - p.mglur_ltd_frac * (1.0 - expr))
            t_p = _time_above(st.c, p.theta_p, p.ca_tau_s, dt)
            t_d = _time_above(st.s, p.theta_d, p.ca_slow_tau_s, dt)
            psi_add = max(psi_add, t_p)
            psid_add = max(psid_add, t_d)
            if t_d > 0.0:  # depression rate ∝ slow calcium (capped): LTD counts pulses, not seconds
                gd *= _mean_capped(st.s, p.theta_d, p.theta_d * p.ltd_level_cap, p.ca_slow_tau_s,
                                   t_d) / p.theta_d
            kdec = (1.0 - st.maint) / e_tau
            rho, t0 = st.rho, 0.0
            for t1 in sorted((t_p, t_d, dt)):
                if t1 > t0:
                    pon = gp if t0 < t_p else 0.0
                    don = gd if t0 < t_d else 0.0
                    rho = _relax(rho, pon + p.rho_star * kdec, pon + don + kdec, t1 - t0)
                    t0 = t1
            st.rho = min(1.0, max(0.0, rho))
            st.maint *= math.exp(-dt / (p.early_maint_tau_min * 60.0))
            if t_d > 0.0 and self.early(k) < -0.02:  # LTD is maintained (not a dip before LTP)
                st.maint = 1.0
            st.c *= math.exp(-dt / p.ca_tau_s)
            st.s *= math.exp(-dt / p.ca_slow_tau_s)
            st.V *= math.exp(-dt / p.dep_tau_s)
            # short-term plasticity recovery
            st.u *= math.exp(-dt / p.stp_tau_f_s)
            st.R = 1.0 - (1.0 - st.R) * math.exp(-dt / p.stp_tau_d_s)
            st.aug *= math.exp(-dt / p.ptp_tau_s)
            # mGluR5 activation: bath agonist + spillover (Hill in g, integrated exactly)
            xg = 0.0
            if st.g > 1e-6:
                g1 = st.g * math.exp(-dt / p.glu_tau_s)
                n, kk = p.glu_hill, p.glu_k
                xg = p.glu_tau_s / n * (math.log(st.g ** n + kk ** n)
                                        - math.log(g1 ** n + kk ** n)) / dt
                st.g = g1 if g1 > 1e-6 else 0.0
            m = expr * (x_d + xg - x_d * xg)
            m_max = max(m_max, m)
            if t_p > 0.0:
                # the maintenance switch: set by mGluR5 co-activation during induction, or by
                # strong induction alone; weak LTP without mGluR5 decays (Bortolotto et al. 1994)
                strong_now = sigmoid((self.psi + psi_add - p.maint_theta_s) / p.maint_width_s)
                st.maint = max(st.maint, min(1.0, max(strong_now, m / p.maint_mglur_sat)))
            st.mbar = _relax(st.mbar, m / p.mglur_lag_s, 1.0 / p.mglur_lag_s, dt)
            mbar_max = max(mbar_max, st.mbar)
            # mGluR5-dependent early potentiation: grows while NMDA calcium is above θp and
            # mGluR5 is co-activated (Lu et al. 1997: absent in the knockout); same maintenance
            if t_p > 0.0 and m > 0.0:
                top = p.mglur_ltp_max * head
                if st.pi < top:
                    st.pi = top + (st.pi - top) * math.exp(-p.mglur_ltp_rate_per_s * m * t_p)
            st.pi *= math.exp(-kdec * dt)
            # tag and capture: tagged early change is converted into the late (L-LTP / late
            # LTD) component while plasticity-related proteins are available (Frey & Morris 1997)
            e = self.early(k) + st.pi
            if abs(e) > p.tag_threshold:
                st.tag = 1.0 - (1.0 - st.tag) * math.exp(-dt / 60.0)
            else:
                st.tag *= math.exp(-dt / (p.tag_tau_min * 60.0))
            kc = p.capture_rate_per_min / 60.0 * self.prp * st.tag
            if kc > 0.0 and e != 0.0:
                f = 1.0 - math.exp(-kc * dt)
                st.z += p.capture_fraction * f * e
                st.rho = p.rho_star + (st.rho - p.rho_star) * (1.0 - f)
                st.pi *= 1.0 - f
            # mGluR-LTD: early (decays) and persistent (needs LTD proteins)
            g_ltd = p.mltd_gain
            ke = p.mltd_early_rate_per_min / 60.0 * st.mbar
            st.ye = _relax(st.ye, ke * min(0.8, p.mltd_early_max * g_ltd * p.mltd_scale),
                           ke + 1.0 / (p.mltd_early_tau_min * 60.0), dt)
            q = min(1.0, self.ltdp + p.fmrp_free_ltdp)
            kl = p.mltd_late_rate_per_min / 60.0 * st.mbar * q
            ymax = min(0.8, p.mltd_late_max * p.mltd_scale)
            if st.yl < ymax:
                st.yl = _relax(st.yl, kl * ymax, kl, dt)
            if st.ye + st.yl > 0.9:
                st.ye = max(0.0, 0.9 - st.yl)
        # slice-wide signals and protein pools
        decay = math.exp(-dt / (p.strong_tau_min * 60.0))
        self.psi = self.psi * decay + psi_add
        self.psi_d = self.psi_d * decay + psid_add
        kphi = p.translation_rate_per_s * m_max
        self.phi = _relax(self.phi, kphi, kphi + 1.0 / (p.translation_tau_min * 60.0), dt)
        # PRP synthesis: strong induction (brief supra-θp calcium, or minutes of the slow pool:
        # late LTD), gated by mGluR5-dependent translation signalling (absent with a NAM / KO)
        strong = max(sigmoid((self.psi - p.strong_theta_s) / p.strong_width_s),
                     sigmoid((self.psi_d - p.strong_ltd_theta_s) / p.strong_ltd_width_s))
        gate = 1.0 - p.prp_mglur5_frac * (1.0 - expr)
        drive = strong * gate + self.phi
        kp = p.prp_rate_per_min / 60.0 * drive * (1.0 - psb)
        self.prp = _relax(self.prp, kp, kp + 1.0 / (p.prp_tau_min * 60.0), dt)
        kq = p.ltdp_rate_per_min / 60.0 * mbar_max * (1.0 - psb)
        self.ltdp = _relax(self.ltdp, kq, kq + 1.0 / (p.ltdp_tau_min * 60.0), dt)
        self.t += dt

    # --- one presynaptic pulse -------------------------------------------------------------------
    def pulse(self, k: int, i_uA: float, bath: Bath) -> tuple[float, float]:
        """Deliver a pulse of ``i_uA`` to pathway k (state already advanced to its time).

        Returns (fEPSP factor, fiber-volley factor): fraction of the pathway's maximal fEPSP and
        fiber volley evoked by this pulse (efficacy × release × recruitment).
        """
        p, pw, st = self.p, self.pw[k], self.st[k]
        fib = recruitment(i_uA, pw.i50_fiber_uA, pw.slope_uA)
        syn = recruitment(i_uA, pw.i50_epsp_uA, pw.slope_uA)
        U = pw.stp_U
        residual = min(1.0, st.u / U)  # residual presynaptic calcium: only trains augment (PTP)
        st.u = st.u + U * (1.0 - st.u)
        release = st.u * st.R
        st.R -= release
        r = release / U
        w = self.efficacy(k)
        factor = syn * w * r * (1.0 + st.aug)
        st.aug += p.ptp_step * (1.0 - st.aug / p.ptp_max) * syn * residual
        # calcium, depolarization and spillover jumps (cooperativity through V and g)
        expr = p.mglur5_expression * (1.0 - bath.nam_block())
        kk = p.glu_k ** p.glu_hill
        gn = st.g ** p.glu_hill
        m_syn = expr * gn / (gn + kk)
        r_nmda = r * (1.0 + p.nmda_sat) / (r + p.nmda_sat)  # saturating NMDAR occupancy
        dca = r_nmda * (1.0 + p.nmda_beta * st.V) * (1.0 + p.mglur_nmda_boost * m_syn)
        dca *= (1.0 - bath.nmda_block()) / (1.0 + st.s / p.nmda_inact_ca)  # Ca-dependent inactivation
        st.c += dca
        st.s += dca
        coop = syn / 0.35
        st.V += r_nmda * w * coop
        st.g += p.glu_step * r * coop
        return factor, fib
