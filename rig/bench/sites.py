"""`rig bench --sites N`: N simulated slices × 2 pathways on one board, beside one slice alone.

Both runs go through the whole pipeline (device → engines → detector → storage), headless, as
fast as possible, on the same protocol (test pulses alternating S1/S2, ``minutes`` long).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rig.experiment.runner import RunOptions, run_experiment
from rig.experiment.sites_run import run_sites
from rig.protocol.rigfile import parse_rig
from rig.protocol.sites import site_rig_data, to_toml
from rig.storage import open_recording


def sites_rig_text(n: int) -> str:
    """A simulated board with ``n`` slices, each one field and two isolators."""
    out = 'backend = "sim"\nsample_rate_hz = 20000.0\nsite_guard_s = 1.0\n'
    for k in range(n):
        out += f'\n[[ai]]\nname = "field_{k}"\nchannel = "ai{k}"\ngain = 1000.0\n'
    for k in range(n):
        for j in (1, 2):
            out += f'\n[[stim]]\npathway = "P{k}_{j}"\nao = "ao{2 * k + j - 1}"\nuA_per_V = 100.0\n'
    for k in range(n):
        out += f'\n[[site]]\nname = "S{k}"\nai = "field_{k}"\nstim = ["P{k}_1", "P{k}_2"]\n'
    return out + '\n[sim]\nmodel = "realistic"\n'


PROTOCOL = """[experiment]
name = "bench sites"
[stimulation]
pathways = ["S1", "S2"]
intensity_uA = [150.0, 150.0]
width_us = 100.0
[[phases]]
kind = "baseline"
duration_min = {minutes!r}
interval_s = 10.0
"""


def bench_sites(n: int = 4, minutes: float = 10.0) -> dict:
    text = sites_rig_text(n)
    rig = parse_rig(text, "<bench sites rig>")
    with tempfile.TemporaryDirectory() as d:
        proto = Path(d) / "p.toml"
        proto.write_text(PROTOCOL.format(minutes=float(minutes)))
        t0 = time.perf_counter()
        res = run_sites(rig, text, None, {s.name: proto for s in rig.site}, out=Path(d) / "b.sites.json",
                        seed=1, speed=None, control=False)
        multi_s = time.perf_counter() - t0
        lost = sweeps = 0
        exp = 0.0
        for o in res.sites:
            with open_recording(o.path) as rec:
                lost += int(rec.status["lost_samples"])
                sweeps += rec.n_sweeps
                exp = max(exp, rec.duration_s)
        single_rig = Path(d) / "one.toml"
        single_rig.write_text(to_toml(site_rig_data(rig, rig.site[0].name)))
        t0 = time.perf_counter()
        one = run_experiment(RunOptions(protocol=proto, rig=single_rig, out=Path(d) / "one.h5", seed=1, speed=None,
                                        control=False))
        single_s = time.perf_counter() - t0
    one_exp = one.stop.sample / one.engine.fs
    return {
        "sites": n,
        "sites_completed": sum(o.reason == "completed" for o in res.sites),
        "sites_experiment_s": exp,
        "sites_wall_s": multi_s,
        "sites_realtime_factor": exp / multi_s,
        "sites_single_realtime_factor": one_exp / single_s,
        "sites_throughput_vs_single": (n * exp / multi_s) / (one_exp / single_s),
        "sites_sweeps": sweeps,
        "sites_lost_samples": lost,
    }
