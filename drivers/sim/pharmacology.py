"""Drugs in the bath: perfusion wash-in/wash-out and receptor binding (bound-fraction kinetics).

The bath concentration of each drug relaxes (first order, ``BATH_TAU_S``) towards the sum of the
pre-incubated concentration and the reservoirs whose valve (DO line) is open. A negative
allosteric modulator (NAM) binds mGluR5 with ``k_on·C`` and unbinds with its own ``k_off``
(``k_on = k_off / K_d``), so a slowly dissociating NAM (basimglurant) stays bound after the bath
is washed while MPEP unbinds within minutes. Fast-equilibrating drugs (agonist, anisomycin, APV)
act through their occupancy ``C / (C + EC50)`` of the current bath concentration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BATH_TAU_S = 180.0  # chamber exchange + diffusion into a 400 µm slice (docs/simulation.md)


@dataclass(frozen=True)
class Drug:
    """One drug the simulator knows. ``kind``: nam | mglur_agonist | ps_inhibitor | nmda_block."""

    name: str
    kind: str
    k_uM: float  # K_d (NAM) or EC50/IC50 (others), µM
    k_off_per_s: float = 0.0  # NAM dissociation rate


DRUGS: dict[str, Drug] = {
    "basimglurant": Drug("basimglurant", "nam", 0.0011, 1.0 / (400.0 * 60.0)),
    "mpep": Drug("MPEP", "nam", 0.036, 1.0 / 120.0),
    "dhpg": Drug("DHPG", "mglur_agonist", 10.0),
    "anisomycin": Drug("anisomycin", "ps_inhibitor", 0.5),
    "apv": Drug("APV", "nmda_block", 2.0),
}
_ALIASES = {"d-apv": "apv", "ap5": "apv", "d-ap5": "apv", "(s)-3,5-dhpg": "dhpg",
            "rs-dhpg": "dhpg", "ro4917523": "basimglurant", "rg7090": "basimglurant"}


def lookup(name: str) -> Drug:
    """The :class:`Drug` for a (case-insensitive) name; ``ValueError`` if unknown."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DRUGS:
        raise ValueError(f"drug: unknown {name!r} (known: {', '.join(d.name for d in DRUGS.values())})")
    return DRUGS[key]


class Bath:
    """Bath concentrations (µM) and NAM bound fractions, advanced in closed form."""

    def __init__(self, valves: tuple[tuple[int, str, float], ...] | list = (),
                 bath: dict[str, float] | None = None, tau_s: float = BATH_TAU_S,
                 pre_incubated: dict[str, tuple[float, float]] | None = None) -> None:
        self.tau_s = tau_s
        self.valves = [(int(line), lookup(d).name, float(c)) for line, d, c in valves]
        for line, d, c in self.valves:
            if line < 0 or c < 0:
                raise ValueError(f"valve: line {line} drug {d}: line and concentration must be >= 0")
        self.base: dict[str, float] = {}
        for d, c in (bath or {}).items():
            if c < 0:
                raise ValueError(f"bath: {d}: concentration must be >= 0")
            self.base[lookup(d).name] = float(c)
        names = {d for _, d, _ in self.valves} | set(self.base)
        self.drugs = {n: lookup(n) for n in names}
        self.conc = {n: self.base.get(n, 0.0) for n in names}  # µM in the bath
        self.bound = {n: self._eq_bound(n, self.conc[n]) for n in names
                      if self.drugs[n].kind == "nam"}
        self.open_lines: set[int] = set()
        for d, (c, t_s) in (pre_incubated or {}).items():
            self.pre_incubate(d, c, t_s)

    def pre_incubate(self, drug: str, c_uM: float, t_s: float) -> None:
        """The slice sat in ``c_uM`` of ``drug`` for ``t_s`` seconds before the recording: the bath
        starts at ``c_uM`` and a NAM's bound fraction at its binding kinetics after ``t_s`` (not at
        equilibrium: basimglurant at 3 nM needs hours). The drug stays only while a valve (or
        ``bath``) carries it."""
        if c_uM < 0 or t_s < 0:
            raise ValueError(f"pre-incubation: {drug}: concentration and time must be >= 0")
        d = lookup(drug)
        self.drugs[d.name] = d
        self.conc[d.name] = float(c_uM)
        if d.kind == "nam":
            kon_c = d.k_off_per_s * c_uM / d.k_uM
            rate = kon_c + d.k_off_per_s
            self.bound[d.name] = kon_c / rate * (1.0 - math.exp(-rate * t_s)) if rate > 0 else 0.0

    def _eq_bound(self, name: str, c_uM: float) -> float:
        k = self.drugs[name].k_uM
        return c_uM / (c_uM + k) if c_uM > 0 else 0.0

    def target(self, name: str) -> float:
        """Concentration (µM) the bath converges to with the current valve states."""
        t = self.base.get(name, 0.0)
        for line, d, c in self.valves:
            if d == name and line in self.open_lines:
                t += c
        return t

    def set_line(self, line: int, state: int) -> None:
        if state:
            self.open_lines.add(line)
        else:
            self.open_lines.discard(line)

    @property
    def lines(self) -> list[int]:
        return sorted({line for line, _, _ in self.valves})

    def advance(self, dt: float) -> None:
        """Advance ``dt`` seconds: bath exchange, then NAM binding at the mid-step concentration."""
        if dt <= 0:
            return
        ex = math.exp(-dt / self.tau_s)
        exh = math.exp(-0.5 * dt / self.tau_s)
        for n, c in self.conc.items():
            tgt = self.target(n)
            mid = tgt + (c - tgt) * exh
            self.conc[n] = tgt + (c - tgt) * ex
            if n in self.bound:
                d = self.drugs[n]
                kon_c = d.k_off_per_s * mid / d.k_uM  # k_on · C, 1/s
                rate = kon_c + d.k_off_per_s
                b_inf = kon_c / rate
                self.bound[n] = b_inf + (self.bound[n] - b_inf) * math.exp(-rate * dt)

    # --- what the synapse sees ---------------------------------------------------------------
    def nam_block(self) -> float:
        """Fraction of mGluR5 held inactive by all bound NAMs (independent sites combined)."""
        free = 1.0
        for b in self.bound.values():
            free *= 1.0 - b
        return 1.0 - free

    def _occupancy(self, kind: str) -> float:
        occ = 0.0
        for n, c in self.conc.items():
            d = self.drugs[n]
            if d.kind == kind and c > 0:
                occ = max(occ, c / (c + d.k_uM))
        return occ

    def agonist(self) -> float:
        """Group-I mGluR agonist occupancy (DHPG), 0..1."""
        return self._occupancy("mglur_agonist")

    def ps_block(self) -> float:
        """Protein-synthesis block (anisomycin), 0..1."""
        return self._occupancy("ps_inhibitor")

    def nmda_block(self) -> float:
        """NMDA-receptor block (APV), 0..1."""
        return self._occupancy("nmda_block")
