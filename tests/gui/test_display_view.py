"""`rig view FILE`: a recording in the window, read-only, with sweep browsing."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

from rig.cli import main  # noqa: E402
from rig.experiment.runner import RunOptions, run_experiment  # noqa: E402
from rig.experiment.windowed import open_viewer  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.conftest import tbs_toml  # noqa: E402

PROTOCOL = tbs_toml(0.5, 0.5, 2.0, name="View")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = tmp_path_factory.mktemp("view")
    (d / "p.toml").write_text(PROTOCOL)
    res = run_experiment(RunOptions(protocol=d / "p.toml", out=d / "r.h5", seed=2, speed=None))
    return res.path


def test_viewer_shows_the_recording_and_browses_sweeps(qtbot, recording):
    win = open_viewer(recording)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    with open_recording(recording) as rec:
        n = rec.n_sweeps
        table = rec.sweep_table.copy()
        last_mV = rec.sweep_mV(n - 1)
    m = win.model
    assert m.n_sweeps == n and m.stop is not None and m.stop.reason == "completed"
    assert [p.name for p in m.phases] == ["baseline", "TBS", "follow-up"]
    assert m.time_course[0].n == n - 1  # every test sweep, not the train
    assert win.sweep_box.value() == n - 1  # opens on the newest sweep
    np.testing.assert_allclose(m.sweeps[0].latest, last_mV)
    assert win.commands is None and "pause" not in win.actions  # read-only: no controls
    qtbot.keyClick(win, QtCore.Qt.Key_Left)
    assert win.sweep_box.value() == n - 2 and m.sweeps[0].latest_index == int(table[n - 2]["index"])
    train = int(np.flatnonzero(table["kind"] == b"train")[0])
    win.sweep_box.setValue(train)
    assert m.sweeps[0].latest_kind == "train" and "train" in win.message.text()
    assert len(m.sweeps[0].latest) == int(table[train]["n_samples"])
    assert m.sweeps[0].baseline is not None  # baseline average of the pathway
    win.close()


def test_rig_view_cli_screenshot_and_errors(recording, tmp_path, capsys):
    png = tmp_path / "v.png"
    assert main(["view", str(recording), "--sweep", "3", "--screenshot", str(png)]) == 0
    img = QtGui.QImage(str(png))
    assert img.width() > 800
    assert main(["view", str(recording), "--sweep", "9999", "--screenshot", str(png)]) == 2
    assert main(["view", str(tmp_path / "missing.h5"), "--screenshot", str(png)]) == 2
    assert "no such recording" in capsys.readouterr().err
