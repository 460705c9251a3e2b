"""`rig bench --sites N`: N simulated slices × 2 pathways on one board, beside one slice alone.

Both runs go through the whole pipeline (device → engines → detector → storage), headless, as
fast as possible, on the same protocol (test pulses alternating S1/S2, ``minutes`` long).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rig.bench.protocols import bench_protocol_text
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


def bench_sites(n: int = 4, minutes: float = 10.0) -> dict:
    text = sites_rig_text(n)
    rig = parse_rig(text, "<bench sites rig>")
    with tempfile.TemporaryDirectory() as d:
        proto = Path(d) / "p.toml"
        proto.write_text(bench_protocol_text(minutes, "bench sites"))
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


def bench_sustained_sites(n: int = 4, minutes: float = 10.0, window: bool = True) -> dict:
    """``rig bench --sustained --sites N``: N simulated slices × 2 pathways at 20 kHz on one board,
    paced to the wall clock (``--speed 1``) for ``minutes`` with the grid window open (offscreen
    without a display), as at the rig. Reports, per site and in all, lost samples, gaps, late writes
    and sweeps (from each site's file), the process's CPU (% of one core), the pacing (board time /
    wall time; reference 1.0), the load average before and after, and what the window drew."""
    import os

    text = sites_rig_text(n)
    rig = parse_rig(text, "<bench sustained sites rig>")
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        proto = Path(d) / "p.toml"
        proto.write_text(bench_protocol_text(minutes, "sustained sites"))
        protocols = {s.name: proto for s in rig.site}
        drawn: dict = {}
        clock = _Pacing()
        cpu0, t0 = os.times(), time.perf_counter()
        kw = dict(out=Path(d) / "s.sites.json", seed=1, speed=1.0, control=False,
                  observers={rig.site[0].name: [clock]})
        if window:
            from rig.experiment.sites_windowed import run_sites_with_window

            def seen(win) -> None:
                drawn["win"] = win

            def tick() -> None:  # keep what the window did before it closes
                w = drawn.get("win")
                if w is not None:
                    drawn.update(frames=w.frames_drawn, gui_load=w.pacer.load,
                                 skipped=sum(p.feed.dropped_sweeps for p in w.panels if p.feed is not None))

            res, _ = run_sites_with_window(rig, text, None, protocols, on_window=seen, on_tick=tick,
                                           close_on_stop=True, **kw)
        else:
            res = run_sites(rig, text, None, protocols, **kw)
        wall = time.perf_counter() - t0
        cpu1 = os.times()
        per = {}
        for o in res.sites:
            with open_recording(o.path) as rec:
                st = rec.status
                per[o.name] = {"reason": o.reason, "sweeps": rec.n_sweeps, "lost_samples": int(st["lost_samples"]),
                               "gaps": int(st["gaps"]), "late_writes": int(st["late_writes"]),
                               "experiment_s": rec.duration_s}
    exp = max(p["experiment_s"] for p in per.values())
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "sustained_sites": n,
        "sustained_sites_rate_hz": rig.sample_rate_hz,
        "sustained_sites_window": window,
        "sustained_sites_experiment_s": exp,
        "sustained_sites_wall_s": wall,
        "sustained_sites_pacing_ratio": clock.ratio(rig.sample_rate_hz),  # board s / wall s once running; ref. 1.0
        "sustained_sites_lost_samples": sum(p["lost_samples"] for p in per.values()),
        "sustained_sites_gaps": sum(p["gaps"] for p in per.values()),
        "sustained_sites_late_writes": sum(p["late_writes"] for p in per.values()),
        "sustained_sites_sweeps": sum(p["sweeps"] for p in per.values()),
        "sustained_sites_completed": sum(p["reason"] == "completed" for p in per.values()),
        "sustained_sites_board_error": str(res.board_error) if res.board_error else "",
        "sustained_sites_cpu_percent": 100.0 * cpu / wall,  # of one core
        "sustained_sites_cores": os.cpu_count(),
        "sustained_sites_load_before": round(load0[0], 2),
        "sustained_sites_load_after": round(os.getloadavg()[0], 2),
        "sustained_sites_frames_drawn": drawn.get("frames", 0),
        "sustained_sites_gui_load": round(drawn.get("gui_load", 0.0), 3),  # GUI thread CPU share (budget 0.3)
        "sustained_sites_display_skipped_sweeps": drawn.get("skipped", 0),
        "sustained_sites_per_site": per,
    }


class _Pacing:
    """Observer of the first site: board samples against wall time between its first and last block."""

    def __init__(self) -> None:
        self.first: tuple[int, float] | None = None
        self.last: tuple[int, float] | None = None

    def __call__(self, doc: object) -> None:
        from rig.core.documents import Progress

        if isinstance(doc, Progress):
            now = (doc.sample, time.perf_counter())
            self.first = self.first or now
            self.last = now

    def ratio(self, fs: float) -> float:
        if self.first is None or self.last is None or self.last[1] <= self.first[1]:
            return float("nan")
        return (self.last[0] - self.first[0]) / fs / (self.last[1] - self.first[1])
