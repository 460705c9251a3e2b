"""A frozen window must not touch the recording: GUI thread blocked 5 s during a paced run."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time  # noqa: E402

import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from rig import detector  # noqa: E402
from rig.core.documents import Measured, Progress  # noqa: E402
from rig.experiment.runner import RunOptions  # noqa: E402
from rig.experiment.windowed import run_with_window  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.conftest import baseline_toml  # noqa: E402

PROTOCOL = baseline_toml(0.2, 1.0, name="Freeze")


class Watch:
    """Subscriber after the writer: counts measured sweeps, logs (wall, sample) per block."""

    def __init__(self):
        self.measured = 0
        self.progress: list[tuple[float, int]] = []

    def __call__(self, doc):
        if isinstance(doc, Measured) and not doc.remeasure:  # re-measures of a new analysis version: same sweeps
            self.measured += 1
        elif isinstance(doc, Progress):
            self.progress.append((time.perf_counter(), doc.sample))


@pytest.mark.slow
def test_gui_frozen_5_s_during_a_paced_run_loses_nothing(qtbot, tmp_path):
    detector.warm_up()  # a fresh clone compiles the numba kernel here, not inside the freeze
    proto = tmp_path / "freeze.toml"
    proto.write_text(PROTOCOL)
    out = tmp_path / "freeze.h5"
    watch = Watch()
    opts = RunOptions(protocol=proto, out=out, seed=3, speed=1.0, subscribers=[watch])
    seen: dict = {}

    def freeze():  # runs in the GUI thread: nothing is drawn for ≥ 5 s and until 3 more sweeps are in
        seen["before"] = watch.measured
        t0 = time.perf_counter()
        # busy, holding the GIL whenever it can; ends on what the engine did, not on the wall clock alone
        # (a loaded machine may measure fewer sweeps in 5 s); 120 s is only a guard against a hang
        while ((time.perf_counter() - t0 < 5.0 or watch.measured < seen["before"] + 3)
               and time.perf_counter() - t0 < 120.0):
            sum(range(1000))
        seen["frozen_s"] = time.perf_counter() - t0
        seen["after"] = watch.measured
        with open_recording(out) as rec:  # storage kept up while the window was frozen
            seen["in_file"] = rec.n_sweeps

    def on_window(win):
        seen["win"] = win
        QtCore.QTimer.singleShot(3000, freeze)

    result, error, _ = run_with_window(opts, on_window=on_window, close_on_stop=True)
    assert error is None, error
    win = seen["win"]
    assert seen["frozen_s"] >= 5.0
    assert seen["after"] >= seen["before"] + 3  # acquisition went on (1 sweep/s)
    assert seen["in_file"] >= seen["after"]  # every measured sweep already on disk
    stop = result.stop
    assert (stop.reason, stop.gaps, stop.lost_samples) == ("completed", 0, 0)
    assert result.engine.stats.late_writes == 0
    with open_recording(out) as rec:
        assert rec.complete and rec.n_sweeps == watch.measured == 12
        assert int(rec.status["gaps"]) == 0 and int(rec.status["lost_samples"]) == 0
    # the window dropped display frames while frozen, then caught up with every sweep header
    assert win.feed.dropped_frames > 0
    assert win.model.n_sweeps == 12 and win.feed.dropped_state == 0
