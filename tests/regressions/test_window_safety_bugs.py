"""Regressions of the window (issue 16): induce now had no confirmation (one press of I started
the TBS), and a long status message widened the window beyond the screen. The first two tests
failed on the code before the fix; PAUSED is checked alongside."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets  # noqa: E402

from rig.bench.synthetic_stream import ltp_stream  # noqa: E402
from rig.core import events as ev  # noqa: E402
from rig.core.commands import drain, make_command_queue  # noqa: E402
from rig.display.feed import DisplayFeed  # noqa: E402
from rig.display.window import RigWindow  # noqa: E402


def _window(qtbot, confirm=None):
    feed = DisplayFeed(max_frames=1000)
    q = make_command_queue()
    win = RigWindow(feed, q, confirm=confirm)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    docs = [d for d in ltp_stream(baseline_min=2, followup_min=2) if type(d).__name__ != "RunStop"]
    for d in docs:
        feed(d)
    win.tick()
    drain(q)
    return win, q, feed, docs


def test_induce_now_asks_first_and_the_dialog_defaults_to_no(qtbot, monkeypatch):
    seen = {}

    def question(parent, title, text, buttons=None, default=None):
        seen["default"] = default
        return QtWidgets.QMessageBox.StandardButton.No if default is None else default  # Enter

    monkeypatch.setattr(QtWidgets.QMessageBox, "question", staticmethod(question))
    monkeypatch.setattr("PySide6.QtGui.QGuiApplication.platformName", staticmethod(lambda: "xcb"))
    win, q, _, _ = _window(qtbot)
    qtbot.mouseClick(win.buttons["induce_now"], QtCore.Qt.LeftButton)
    assert seen.get("default") == QtWidgets.QMessageBox.StandardButton.No
    assert drain(q) == [] and "cancelled" in win.message.text()
    win._force_close = True


def test_a_300_character_status_never_widens_the_window_beyond_the_screen(qtbot):
    win, _, _, _ = _window(qtbot, confirm=lambda _q: True)
    win.resize(1600, 1000)
    before = win.width()
    long = "refused: " + "the baseline is not stable enough for the gate to end it " * 6
    assert len(long) >= 300
    win.message.setText(long)
    qtbot.wait(50)
    QtWidgets.QApplication.processEvents()
    assert win.minimumSizeHint().width() <= 1600 and win.sizeHint().width() <= 1600
    assert win.width() == before <= 1600
    assert win.message.text() == long and win.message.shown_text().endswith("…")
    win._force_close = True


def test_after_pause_the_state_says_paused(qtbot):
    win, _, feed, docs = _window(qtbot, confirm=lambda _q: True)
    last = docs[-1]
    sample = getattr(last, "sample", 0)
    feed(ev.Paused(sample=sample, text="stimulation paused by the operator", cause="operator pause"))
    win.tick()
    assert "PAUSED" in win.status_labels["state"].text()
    win._force_close = True
