"""Issue 15: the window's Re-analyse (Ctrl+R) measured every pathway's held sweeps with ONE window
set (every pathway's, overridden by the windows drawn), so on a two-pathway recording where S2 has
its own windows every S2 point of the time course was replaced by a value from S1's windows (all
12 of S2's points wrong, by up to ~15 %). Now each pathway is re-measured with its own windows: its
stored ones, overridden by what was dragged on its plot (or every pathway's drag when it has none).

The recording is protocols/two_pathway_tbs.toml, shortened (2 min baseline, 2 min follow-up), run
through the simulator with S2's own slope window; the display model is fed the run's documents."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from rig.core.commands import drain, make_command_queue  # noqa: E402
from rig.detector import measure_pulses  # noqa: E402
from rig.detector.measurement import PathwayWindows, Windows  # noqa: E402
from rig.display.feed import DisplayFeed  # noqa: E402
from rig.display.model import DisplayModel  # noqa: E402
from rig.display.panels import shown_windows_ms  # noqa: E402
from rig.display.reanalyse import reanalyse  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.window_run import record  # noqa: E402

PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "two_pathway_tbs.toml"
S2_SLOPE = (2.6, 3.6)  # S2's own slope window (ms); S1 keeps the default 3.0–4.5 ms


def _short_two_pathway() -> str:
    text = PROTOCOL.read_text()
    text = text.replace("duration_min = 20.0", "duration_min = 2.0").replace("duration_min = 60.0",
                                                                             "duration_min = 2.0")
    text = text.replace("trains = 3", "trains = 1").replace("bursts = 10", "bursts = 5")
    own = f"[analysis.pathways.S2.windows]\nslope = [{S2_SLOPE[0]}, {S2_SLOPE[1]}]\n\n"
    return text.replace("[stimulation]", own + "[stimulation]")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("two"), _short_two_pathway(), "two")


def _remeasured(path: Path, pathway: int, w: Windows) -> dict[int, float]:
    """Slope (mV/ms) of every test sweep of ``pathway`` measured from the file's raw samples with ``w``."""
    out = {}
    with open_recording(path) as rec:
        for i, r in enumerate(rec.sweep_table):
            kind = r["kind"].decode() if isinstance(r["kind"], bytes) else str(r["kind"])
            if int(r["pathway"]) != pathway or kind != "test":
                continue
            trace = rec.sweep_counts(i)[:, 0].astype(np.float64) * rec.sweep_scale(i, 0)
            pulses = np.asarray(rec.pulse_samples(i), dtype=np.int64) - int(r["start_sample"])
            clip = 32767 * rec.sweep_scale(i, 0) * 0.999
            out[int(r["index"])] = float(measure_pulses(trace, pulses, rec.sample_rate_hz, w, clip)[0][
                "slope_mV_per_ms"])
    return out


def _points(model: DisplayModel, pathway: int) -> dict[int, float]:
    tc = model.time_course[pathway]
    return {int(s): float(v) for s, v in zip(tc["sweep"], tc["slope"], strict=True)}


def _own_windows(path: Path) -> PathwayWindows:
    with open_recording(path) as rec:
        assert rec.pathway_windows == {"1": {"slope": list(S2_SLOPE)}}
        return PathwayWindows.from_dicts(rec.windows, rec.pathway_windows)


def _assert_points(model: DisplayModel, pathway: int, want: dict[int, float]) -> None:
    got = _points(model, pathway)
    assert set(want) <= set(got)
    wrong = {i: (got[i], want[i]) for i in want if got[i] != pytest.approx(want[i], rel=1e-9)}
    assert not wrong, f"S{pathway + 1}: {len(wrong)} of {len(want)} points not from its own windows: {wrong}"


def test_model_reanalyse_measures_each_pathway_with_its_own_windows(run):
    own = _own_windows(run.path)
    model = DisplayModel()
    model.apply_all(run.docs)
    assert tuple(model.windows_of(1)["slope"]) == S2_SLOPE
    want = {p: _remeasured(run.path, p, own.of(p)) for p in (0, 1)}
    assert len(want[1]) == 12
    other = _remeasured(run.path, 1, own.of(0))  # S2 measured with S1's windows: what main did
    err = max(abs(other[i] / want[1][i] - 1) for i in want[1])
    assert err > 0.02  # the two window sets really differ on this recording
    report = reanalyse(model, shown_windows_ms(model.windows))  # the call the window made
    assert report.sweeps == {0: 12, 1: 12}
    for p in (0, 1):
        _assert_points(model, p, want[p])


def test_ctrl_r_keeps_s2s_own_windows_and_uses_the_drag_on_s2s_plot(run, qtbot):
    from rig.display.window import RigWindow

    own = _own_windows(run.path)
    feed, q = DisplayFeed(max_frames=100_000), make_command_queue()
    win = RigWindow(feed, q)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    for d in run.docs:
        if type(d).__name__ != "RunStop":
            feed(d)
    win.tick()
    drain(q)
    want = {p: _remeasured(run.path, p, own.of(p)) for p in (0, 1)}
    qtbot.keyClick(win, QtCore.Qt.Key_R, QtCore.Qt.ControlModifier)
    assert [c.cmd for c in drain(q)] == ["reanalyse"]
    for p in (0, 1):
        _assert_points(win.model, p, want[p])
    # a drag on S2's plot: S2 is re-measured with the dragged window on top of its own, S1 keeps its own
    region = win.sweep_plots[1].regions["slope"]
    region.setRegion((2.8, 3.9))
    win._on_window_moved("slope", region, pathway=1)
    drain(q)
    qtbot.keyClick(win, QtCore.Qt.Key_R, QtCore.Qt.ControlModifier)
    cmd = drain(q)
    assert [c.cmd for c in cmd] == ["reanalyse"]
    assert cmd[0].data["pathway_windows_ms"]["1"]["slope"] == pytest.approx((2.8, 3.9))
    _assert_points(win.model, 1, _remeasured(run.path, 1, own.of(1).replace(slope=(2.8, 3.9))))
    _assert_points(win.model, 0, want[0])
    win._force_close = True


def test_the_engine_makes_one_version_per_reanalyse_that_keeps_s2s_own_windows(tmp_path):
    """The ``reanalyse`` command as the window sends it (every pathway's windows drawn, and S2's own):
    one analysis version, S2 measured with its own windows in it (main: a version that measured S2 with
    S1's windows, then a second one with S2's)."""
    from rig.core.commands import Command

    drawn = {"slope": [3.0, 4.5], "volley": [0.6, 2.5], "peak": [3.0, 12.0]}
    cmd = Command("reanalyse", source="test", data={"windows_ms": drawn, "sweeps": 24, "pathway_windows_ms": {
        "1": {**drawn, "slope": list(S2_SLOPE)}}})
    path = record(tmp_path, _short_two_pathway(), "re", [(200.0, cmd)]).path
    with open_recording(path) as rec:
        known = rec.analyses
    assert [k["source"] for k in known] == ["online", "reanalyse"]
    assert known[1]["pathway_windows"] == {"1": {"slope": list(S2_SLOPE)}}
    for k in known:
        with open_recording(path, k["version"]) as rec:
            m = rec.measurements[(rec.measurements["pulse"] == 0) & (rec.measurements["pathway"] == 1)]
            got = {int(i): float(s) for i, s in zip(m["sweep_index"], m["slope_mV_per_ms"], strict=True)}
        own = PathwayWindows.from_dicts(k["windows"], k["pathway_windows"]).of(1)
        want = _remeasured(path, 1, own)  # version 0 holds the sweeps before the Re-analyse, version 1 all 12
        assert (len(got) == 12 if k["version"] else 0 < len(got) < 12) and set(got) <= set(want)
        assert got == pytest.approx({i: want[i] for i in got}, rel=1e-9), \
            f"version {k['version']}: S2 not measured with its own windows"
