"""A small multi-slice rig file for the multi-site tests (two or three sites, one field and one
isolator each; site B with two pathways)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def sites_rig_toml(n_sites: int = 2, guard_s: float = 1.0, model: str = "realistic") -> str:
    names = "ABCD"[:n_sites]
    ai = "".join(f'\n[[ai]]\nname = "field_{n}"\nchannel = "ai{k}"\ngain = 1000.0\n' for k, n in enumerate(names))
    stim, sites, ao = "", "", 0
    for n in names:
        pws = [f"{n}1", f"{n}2"] if n == "B" else [f"{n}1"]
        for pw in pws:
            stim += f'\n[[stim]]\npathway = "{pw}"\nao = "ao{ao}"\nuA_per_V = 100.0\n'
            ao += 1
        quoted = ", ".join(f'"{p}"' for p in pws)
        sites += f'\n[[site]]\nname = "{n}"\nai = "field_{n}"\nstim = [{quoted}]\n'
    return (f'backend = "sim"\nsample_rate_hz = 20000.0\nsite_guard_s = {guard_s!r}\n' + ai + stim + sites
            + f'\n[sim]\nmodel = "{model}"\n')


def write_sites_rig(tmp_path: Path, n_sites: int = 2, guard_s: float = 1.0, model: str = "realistic") -> Path:
    p = tmp_path / f"sites{n_sites}.toml"
    p.write_text(sites_rig_toml(n_sites, guard_s, model))
    return p


def same_recording(a: Path, b: Path) -> list[str]:
    """What differs between two recordings (wall-clock fields and file names aside)."""
    out = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for name in ("samples", "sweeps", "measurements", "pulses", "phases"):
            x, y = fa[name][()], fb[name][()]
            if x.dtype.names:
                cols = [c for c in x.dtype.names if c not in ("wall_time",)]
                bad = [c for c in cols if not np.array_equal(x[c], y[c], equal_nan=x[c].dtype.kind == "f")]
                out += [f"{name}.{c}" for c in bad]
            elif not np.array_equal(x, y):
                out.append(name)
        ea, eb = fa["events"][()], fb["events"][()]
        if [(r["sample"], r["kind"]) for r in ea] != [(r["sample"], r["kind"]) for r in eb]:
            out.append("events")
    return out
