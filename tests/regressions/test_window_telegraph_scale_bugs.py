"""Issue 21: the window scaled every sweep with the run's fixed mV per count, so after the gain
knob was turned (a gain telegraph on the field channel) the live sweep plot, its averages and the
clipping level of the held sweeps were off by the gain ratio, while the file and the measurements
stayed true. Failed on the code before the fix (the sweep after the change showed −1.0 mV)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rig.core.commands import make_command_queue  # noqa: E402
from rig.core.documents import PhaseStart, RunStart, Sweep  # noqa: E402
from rig.display.feed import DisplayFeed  # noqa: E402
from rig.display.window import RigWindow  # noqa: E402

FS = 20000.0
LSB_MV = 10.0 / 32768 * 1e3  # ±10 V ADC, mV per count at the ADC
TROUGH_MV = -0.5  # at the electrode, whatever the gain


def _sweep(index: int, gain: float) -> Sweep:
    n, stim = 2000, 200
    t_ms = (np.arange(n) - stim) / FS * 1e3
    y_mV = np.where(t_ms > 2, TROUGH_MV * np.exp(-np.maximum(t_ms - 6, 0) / 12) * np.minimum((t_ms - 2) / 4, 1), 0)
    scale = LSB_MV / gain
    counts = np.round(y_mV / scale).astype(np.int16)[None, :]
    start = index * int(5 * FS)
    return Sweep(index, 0, 0, "test", start, start + stim, np.array([start + stim], np.int64), 100.0, 4, counts,
                 0.0, gain=gain, gain_channel=0, gain_mV_per_count=scale)


def test_the_window_rescales_a_telegraph_scaled_channel_after_a_gain_change(qtbot):
    feed = DisplayFeed(max_frames=1000)
    win = RigWindow(feed, make_command_queue())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    feed(RunStart(FS, ("ai0",), (LSB_MV / 100.0,), (0,), "telegraph", int(120 * FS), 0.0))  # fixed: gain 100
    feed(PhaseStart(0, "baseline", "baseline", 0))
    for i in range(4):
        feed(_sweep(i, 100.0))
    win.tick()
    v = win.model.sweeps[0]
    assert v.latest.min() == pytest.approx(TROUGH_MV, rel=0.01)
    for i in range(4, 8):  # the knob turned to 200×: twice the counts, half the mV per count
        feed(_sweep(i, 200.0))
    win.tick()
    assert v.latest_index == 7
    assert v.latest.min() == pytest.approx(TROUGH_MV, rel=0.01)  # not −1.0 mV
    assert v.average.min() == pytest.approx(TROUGH_MV, rel=0.01)
    assert v.baseline.min() == pytest.approx(TROUGH_MV, rel=0.01)
    _, y = win.sweep_plots[0].latest.getData()  # what the plot draws
    assert np.min(y) == pytest.approx(TROUGH_MV, rel=0.01)
    held = win.model.held[0]
    assert held[-1].clip_mV == pytest.approx(32767 * LSB_MV / 200.0 * 0.999)  # clips at the new gain's level
    assert held[0].clip_mV == pytest.approx(32767 * LSB_MV / 100.0 * 0.999)
