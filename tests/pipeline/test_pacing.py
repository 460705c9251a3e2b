"""--speed 1 follows the wall clock; --speed max does not wait (issue 2)."""

from __future__ import annotations

import time

import numpy as np

from rig.core.documents import Progress
from rig.experiment.runner import RunOptions, run_experiment
from tests.conftest import baseline_toml

PROTO = baseline_toml(0.06, 1.0, name="pacing")


def test_speed_1_is_paced_by_the_sample_clock(tmp_path):
    p = tmp_path / "pace.toml"
    p.write_text(PROTO)
    points: list[tuple[float, int]] = []

    def sub(doc):
        if isinstance(doc, Progress):
            points.append((time.perf_counter(), doc.sample))

    res = run_experiment(RunOptions(protocol=p, out=tmp_path / "p.h5", speed=1.0, subscribers=[sub]))
    wall = np.array([w for w, _ in points])
    exp_s = np.array([s for _, s in points]) / 20000.0
    assert exp_s[-1] >= 3.5
    # slope of sample time vs wall time: robust to one late wake-up
    slope = np.polyfit(wall - wall[0], exp_s - exp_s[0], 1)[0]
    assert abs(slope - 1.0) < 0.02, slope
    # never ahead of the wall clock: the simulated clock waits for real time
    assert (exp_s[-1] - exp_s[0]) <= (wall[-1] - wall[0]) * 1.02
    assert res.stop.reason == "completed"
