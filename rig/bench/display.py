"""``display_fps``: frames per second of the rig window, offscreen, under a worst-case load.

Two pathways, 20 kHz sweeps (100 ms: 2000 samples), a 4-hour time course already drawn (two
pathways × one point per 10 s), phases and an induction marker. Each frame: a new sweep and its
measurement arrive (alternating pathways — 30 sweeps/s, ~100× a real test-pulse rate), the
window drains, redraws and Qt paints what changed (``processEvents``, as in the live loop);
``display_fps_full_repaint`` forces every widget to be painted each frame (worst case).
Reference measured in the same run: a bare pyqtgraph PlotWidget of the same size repainting
one of six 2000-point curves and two 4-hour time-course curves per frame.
"""

from __future__ import annotations

import os
import time

import numpy as np

GOAL_FPS = 30.0


def _frames(fn, seconds: float, min_frames: int = 10) -> list[float]:
    times: list[float] = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < min_frames:
        t0 = time.perf_counter()
        fn(len(times))
        times.append(time.perf_counter() - t0)
    return times


def bench_display(seconds: float = 3.0) -> dict:
    """Measure the window's frame rate offscreen (see module docstring); returns a dict."""
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from rig.experiment.windowed import ensure_app

    app = ensure_app()
    import pyqtgraph as pg

    from rig.bench.synthetic_stream import ltp_stream
    from rig.core.documents import Measured, RunStop, Sweep
    from rig.display.feed import DisplayFeed
    from rig.display.window import RigWindow

    fs = 20_000.0
    history = [d for d in ltp_stream(fs=fs, pathways=(0, 1), interval_s=5.0, baseline_min=30,
                                     followup_min=210, with_sweeps=False)
               if not isinstance(d, RunStop)]
    live = [d for d in ltp_stream(fs=fs, pathways=(0, 1), interval_s=5.0, baseline_min=1,
                                  followup_min=1, sweep_ms=(-20.0, 80.0))
            if isinstance(d, (Sweep, Measured))]
    pairs = [(live[i], live[i + 1]) for i in range(0, len(live) - 1, 2)]
    feed = DisplayFeed(max_frames=64)
    win = RigWindow(feed, None, refresh_hz=1000, cpu_budget=1.0)
    win.timer.stop()  # frames are driven here
    win.resize(1600, 950)
    win.show()
    for d in history:
        feed(d)
    win.tick()
    app.processEvents()
    points = {p: win.model.time_course[p].n for p in (0, 1)}
    last_sample = history[-1].sample if hasattr(history[-1], "sample") else 0

    def frame(k: int) -> None:
        sw, me = pairs[k % len(pairs)]
        s = last_sample + (k + 1) * 100_000
        feed(Sweep(sw.index, sw.pathway, 2, "test", s, s + 400, sw.pulse_samples, 50.0, 2,
                   sw.counts, 0.0))
        feed(Measured(me.sweep_index, me.pathway, 2, s + 400, me.records))
        win.tick()
        if full:
            win.repaint()  # worst case: every widget of the window painted
        else:
            app.processEvents()  # as in the live loop: Qt paints what changed

    full = False
    frames = np.asarray(_frames(frame, seconds))
    full = True
    full_frames = np.asarray(_frames(frame, seconds / 2))
    win.force_close()

    # reference: a bare PlotWidget with the same number of points, repainted
    ref = pg.PlotWidget()
    ref.resize(1600, 950)
    ref.show()
    x = np.arange(2000, dtype=np.float64)
    curves = [ref.plot(x, np.random.default_rng(i).normal(size=2000)) for i in range(6)]
    tc = np.arange(points[0], dtype=np.float64)
    ref.plot(tc, np.ones_like(tc))
    ref.plot(tc, np.ones_like(tc))
    app.processEvents()

    def ref_frame(k: int) -> None:
        curves[k % 6].setData(x, np.roll(curves[k % 6].yData, 1))
        ref.viewport().repaint()

    ref_frames = np.asarray(_frames(ref_frame, min(seconds, 2.0)))
    ref.close()
    win.deleteLater()
    ref.deleteLater()
    app.processEvents()
    return {
        "display_fps": float(1.0 / frames.mean()),
        "display_frame_ms_p50": float(np.percentile(frames, 50) * 1e3),
        "display_frame_ms_p95": float(np.percentile(frames, 95) * 1e3),
        "display_frames": int(frames.size),
        "display_fps_full_repaint": float(1.0 / full_frames.mean()),
        "display_time_course_points": int(sum(points.values())),
        "display_reference_fps": float(1.0 / ref_frames.mean()),
        "display_goal_fps": GOAL_FPS,
        "display_platform": app.platformName(),
    }
