"""A planned comparison: groups (genotype, drug), slice counts, repetitions, and the seed of every
simulated slice. Pure data; validated at the door (one-line :class:`UserError` naming the option).

A group is written as the user would name it: ``GENOTYPE [vehicle | + DRUG CONC UNIT]``, e.g.
``"Fmr1-KO vehicle"``, ``"Fmr1-KO + basimglurant 3 nM"``, ``"WT + MPEP 40 µM"``. A drug is washed
in before the protocol's first phase (a ``drug`` phase of ``pre_incubation_min``) and stays on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rig.core.errors import UserError

UNITS_TO_uM = {"nM": 1e-3, "µM": 1.0, "uM": 1.0, "mM": 1e3}
CONTROLS = ("vehicle", "control", "acsf", "aCSF")
_DRUG = re.compile(r"^\+\s*(?P<drug>[A-Za-z][\w\-]*)\s+(?P<conc>[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*"
                   r"(?P<unit>nM|µM|uM|mM)$")
MAX_SLICES = 200
MAX_REPEATS = 100_000


@dataclass(frozen=True)
class Group:
    """One arm of the comparison: what every one of its simulated slices is."""

    label: str
    genotype: str
    drug: str = ""  # "" = vehicle
    concentration_uM: float | None = None


def parse_group(text: str) -> Group:
    """``"Fmr1-KO + basimglurant 3 nM"`` → Group; a bad spec is a one-line UserError."""
    s = " ".join(str(text).split())
    if not s:
        raise UserError("--group: empty (e.g. --group \"Fmr1-KO vehicle\" or \"WT + MPEP 40 µM\")")
    genotype, _, rest = s.partition(" ")
    rest = rest.strip()
    if rest == "" or rest in CONTROLS:
        return Group(s, genotype)
    m = _DRUG.match(rest)
    if not m:
        raise UserError(f"--group {s!r}: after the genotype write 'vehicle' or '+ DRUG CONC UNIT' "
                        f"(unit nM, µM or mM), e.g. 'Fmr1-KO + basimglurant 3 nM'")
    conc = float(m["conc"]) * UNITS_TO_uM[m["unit"]]
    if not 0 < conc <= 100_000:
        raise UserError(f"--group {s!r}: concentration must be > 0 and ≤ 100 mM")
    return Group(s, genotype, m["drug"], conc)


def parse_n(text: str) -> list[int]:
    """``"4:16:2"`` → [4, 6, …, 16]; ``"8"`` → [8]; ``"4,8,12"`` → [4, 8, 12]. Each n in 2..200."""
    s = str(text).strip()
    try:
        if ":" in s:
            parts = [int(p) for p in s.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            lo, hi, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
            if step < 1 or hi < lo:
                raise ValueError
            ns = list(range(lo, hi + 1, step))
        else:
            ns = sorted({int(p) for p in s.split(",")})
    except ValueError:
        raise UserError(f"--n {text!r}: write START:STOP[:STEP] (e.g. 4:16:2) or a list (4,8,12)") from None
    if not ns or ns[0] < 2 or ns[-1] > MAX_SLICES:
        raise UserError(f"--n {text!r}: slices per group must be within 2..{MAX_SLICES}")
    return ns


@dataclass(frozen=True)
class Design:
    """Everything a power study needs; slices are simulated once and reused: repetition r of the
    study at n slices per group uses slices 0..n-1 of each group in repetition r."""

    protocol: Path
    protocol_text: str
    rig_path: Path | None
    groups: tuple[Group, ...]
    n_values: tuple[int, ...]
    repeats: int
    alpha: float = 0.05
    test: str = "Welch t-test"
    seed: int = 1
    pre_incubation_min: float = 20.0

    @property
    def n_max(self) -> int:
        return max(self.n_values)

    def slice_seed(self, rep: int, group: int, k: int) -> int:
        """The seed of slice ``k`` of ``group`` in repetition ``rep`` (distinct for every slice)."""
        return self.seed + (rep * len(self.groups) + group) * self.n_max + k

    def tasks(self) -> list[tuple[int, int, int]]:
        """(repetition, group, slice) of every slice to simulate."""
        return [(r, g, k) for r in range(self.repeats) for g in range(len(self.groups)) for k in range(self.n_max)]


def group_protocol(text: str, group: Group, pre_incubation_min: float, valve: str | None) -> dict:
    """The protocol's data for one group: its genotype and drug in the metadata, the drug washed in
    before the first phase (test pulses at the first phase's interval)."""
    data = tomllib.loads(text)
    meta = dict(data.get("metadata", {}))
    meta["genotype"] = group.genotype
    phases = list(data.get("phases", []))
    if group.drug:
        meta["drug"], meta["concentration_uM"] = group.drug, group.concentration_uM
        first = phases[0] if phases else {}
        pre = {"kind": "drug", "name": f"{group.drug} pre-incubation", "drug": group.drug,
               "concentration_uM": group.concentration_uM, "wash_in_min": pre_incubation_min, "valve": valve}
        if "interval_s" in first:
            pre["interval_s"] = first["interval_s"]
        phases = [pre, *phases]
    else:
        meta["drug"] = "vehicle"
        meta.pop("concentration_uM", None)
    data["metadata"], data["phases"] = meta, phases
    return data


def free_valve(text: str, valves: list[str]) -> str | None:
    """A rig valve the protocol does not use (the pre-incubated drug's reservoir); None: none left."""
    used = {p.get("valve") for p in tomllib.loads(text).get("phases", [])}
    return next((v for v in valves if v not in used), None)
