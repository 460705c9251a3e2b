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


class Script:
    """Observer of one site's documents that posts commands at site times (s), as an operator would."""

    def __init__(self, q, script, fs: float = 20000.0) -> None:
        self.q, self.todo, self.fs = q, sorted(script, key=lambda t: t[0]), fs

    def __call__(self, doc: object) -> None:
        from rig.core.commands import post
        from rig.core.documents import Progress

        if isinstance(doc, Progress):
            while self.todo and doc.sample >= self.todo[0][0] * self.fs:
                post(self.q, self.todo.pop(0)[1])


def run_scripted(d: Path, protocols: dict[str, str], scripts: dict[str, list], n_sites: int = 2, seed: int = 2,
                 guard_s: float = 1.0):
    """A multi-site run at --speed max (run_sites, as `rig run` does) with commands posted at site times."""
    from rig.core.commands import make_command_queue
    from rig.experiment.sites_run import run_sites
    from rig.protocol.rigfile import parse_rig

    text = sites_rig_toml(n_sites, guard_s)
    rig = parse_rig(text, "sites rig")
    paths = {}
    for name, proto in protocols.items():
        paths[name] = d / f"{name}.toml"
        paths[name].write_text(proto)
    queues = {n: make_command_queue() for n in scripts}
    res = run_sites(rig, text, None, paths, out=d / "run.sites.json", seed=seed, speed=None, control=False,
                    commands=queues, observers={n: [Script(queues[n], s)] for n, s in scripts.items()})
    return res


def board_pulses(index: Path) -> dict[str, np.ndarray]:
    """Every site's delivered pulse onsets on the board's clock (its samples + its offset)."""
    import json

    idx = json.loads(index.read_text())
    out = {}
    for s in idx["sites"]:
        with h5py.File(index.parent / s["file"], "r") as h:
            out[s["name"]] = np.sort(h["pulses"][()]) + s["offset_samples"]
    return out


def events_of(path: Path, *kinds: str) -> list[tuple[float, str, str]]:
    """(time s, kind, text) of the file's events of these kinds."""
    with h5py.File(path, "r") as h:
        return [(int(e["sample"]) / 20000.0, e["kind"].decode(), e["text"].decode()) for e in h["events"][()]
                if e["kind"].decode() in kinds]


def closest_between_sites(pulses: dict[str, np.ndarray], fs: float = 20000.0) -> float:
    """Smallest time (s) between pulses of two different sites."""
    names = list(pulses)
    best = np.inf
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if len(pulses[a]) and len(pulses[b]):
                best = min(best, float(np.min(np.abs(pulses[a][:, None] - pulses[b][None, :]))) / fs)
    return best
