"""Issue 16, ``rig view``: the browsed sweep's measured values were not shown, and the time course
was not linked to the browser. A click on a time-course point now shows its sweep; the cursor
marks the browsed sweep. Both tests failed on the code before the fix."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from rig.experiment.runner import RunOptions, run_experiment  # noqa: E402
from rig.experiment.windowed import open_viewer  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.conftest import tbs_toml  # noqa: E402


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("view_cursor")
    (d / "p.toml").write_text(tbs_toml(1.0, 1.0, 5.0, name="View"))
    return run_experiment(RunOptions(protocol=d / "p.toml", out=d / "r.h5", seed=2, speed=None,
                                     control=False, force_sim=True)).path


def _viewer(qtbot, recording):
    win = open_viewer(recording)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    qtbot.waitExposed(win)
    return win


def test_the_browsed_sweep_shows_its_measured_values(qtbot, recording):
    win = _viewer(qtbot, recording)
    with open_recording(recording) as rec:
        m = rec.measurements
        row = m[(m["sweep_index"] == 4) & (m["pulse"] == 0)][0]
    win.sweep_box.setValue(4)
    text = win.message.text()
    assert f"slope {row['slope_mV_per_ms']:.3g} mV/ms" in text, text
    assert f"volley {row['volley_mV']:.3g} mV" in text and "% of baseline" in text
    pct = row["slope_mV_per_ms"] / win.model.baseline_mean(0) * 100
    assert f"{pct:.0f} % of baseline" in text
    assert win.cursor.line.isVisible() and win.cursor.line.value() == pytest.approx(
        win.model.time_course[0]["t_s"][4] / 60)
    win.close()


def test_a_click_on_a_time_course_point_shows_that_sweep(qtbot, recording):
    win = _viewer(qtbot, recording)
    QtWidgets.QApplication.processEvents()
    x, y, _ = win.model.time_course_xy(0)
    r = win.model.result(0)
    k = len(x) // 3
    want = int(r.sweep[k])
    assert win.sweep_box.value() != want
    vb = win.tc_widget.getPlotItem().vb
    scene_pt = vb.mapViewToScene(QtCore.QPointF(float(x[k]), float(y[k])))
    px = win.tc_widget.mapFromScene(scene_pt)
    qtbot.mouseClick(win.tc_widget.viewport(), QtCore.Qt.LeftButton, pos=px)
    assert win.model.sweeps[0].latest_index == want
    assert win.cursor.ring.isVisible() and np.allclose(win.cursor.ring.getData()[0], [x[k]])
    assert f"sweep {want} " in win.message.text()
    win.close()
