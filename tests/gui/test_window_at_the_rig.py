"""Issue 16, the window judged at the rig: each test feeds the documents of a real simulated run
(tests/window_run.py) into a real window (offscreen) and failed on the code before the fix."""

import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from rig.analysis.results import compute  # noqa: E402
from rig.core import events as ev  # noqa: E402
from rig.core.commands import drain, make_command_queue  # noqa: E402
from rig.core.documents import RunStop, Sweep  # noqa: E402
from rig.display.feed import DisplayFeed  # noqa: E402
from rig.display.theme import PATHWAY_COLOURS, THEMES  # noqa: E402
from rig.display.window import RigWindow  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.window_run import record_paired, record_tbs  # noqa: E402


@pytest.fixture(scope="module")
def tbs_run(tmp_path_factory):
    return record_tbs(tmp_path_factory.mktemp("window_tbs"))


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    return record_paired(tmp_path_factory.mktemp("window_paired"))


def _window(qtbot, run, until=None, theme="dark", confirm=lambda _q: True):
    """A live window fed the run's documents up to (and including) the first one ``until`` accepts."""
    feed = DisplayFeed(max_frames=100_000)
    win = RigWindow(feed, make_command_queue(), plan=run.plan, confirm=confirm, theme=theme)
    qtbot.addWidget(win)
    win.resize(1600, 1000)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    for d in run.docs:
        feed(d)
        if until is not None and until(d):
            break
    win.tick()
    return win


def _banner(win):
    return win.header.banner_box.isVisible(), win.header.banner.kind, win.header.banner_label.text()


def test_a_held_induction_is_a_banner_and_the_countdown_says_held(qtbot, tbs_run):
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.InductionHeld))
    shown, kind, text = _banner(win)
    assert shown and kind == "held" and "INDUCTION HELD" in text and "40 pulses" in text
    assert win.status_labels["state"].text() == "PAUSED"
    assert win.status_labels["next_stim"].text() == "held"  # not a frozen countdown
    assert win.header.banner_label.font().pointSize() >= 20
    win._force_close = True


def test_an_alarm_is_a_banner_until_acknowledged(qtbot, tbs_run):
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.Alarm))
    shown, kind, text = _banner(win)
    assert shown and kind == "alarm" and "noise" in text and "ALARM at 4:35" in text
    assert win.header.ack_button.isVisible()
    qtbot.keyClick(win, QtCore.Qt.Key_Escape)
    win.tick()
    assert not win.header.banner_box.isVisible()
    assert "noise" in win.status_labels["alarm"].text()  # still listed
    win._force_close = True


def test_the_end_shows_the_result_of_the_file_and_a_close_button(qtbot, tbs_run):
    win = _window(qtbot, tbs_run)
    shown, kind, text = _banner(win)
    with open_recording(tbs_run.path) as rec:
        want = compute(rec).pathways[0].magnitude_percent
    assert shown and kind == "ended" and f"RESULT  S1 {want:.0f} % of baseline" in text
    assert win.status_labels["state"].text() == "STOPPED"  # the reason is in the banner, no collision
    assert "(completed)" in text
    assert win.header.close_button.isVisible()
    qtbot.mouseClick(win.header.close_button, QtCore.Qt.LeftButton)
    assert not win.isVisible()


def test_a_live_percent_of_baseline_per_pathway_in_large_type(qtbot, tbs_run):
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.Alarm))
    lab = win.header.percent_labels[0]
    pct = win.model.result(0).percent[-3:].mean()
    assert lab.text() == f"S1  {pct:.0f} %" and lab.font().pointSize() >= 24
    assert pct > 110  # after the TBS: potentiated
    win._force_close = True


def test_sweep_y_range_follows_the_fepsp_not_the_artifact_in_a_train(qtbot, tbs_run):
    def is_train(d):
        return isinstance(d, Sweep) and d.kind == "train"
    win = _window(qtbot, tbs_run, until=is_train)
    v = win.model.sweeps[0]
    assert v.latest_kind == "train" and len(v.pulse_ms) == 40
    (_, _), (y0, y1) = win.sweep_plots[0].plot.vb.viewRange()
    fepsp = float(np.min(v.average[(v.average_x_ms > 2) & (v.average_x_ms < 10)]))
    art = float(np.max(np.abs(v.latest)))
    assert art > 3.0  # the train's artifacts reach several mV
    assert y0 <= fepsp and y1 - y0 < 0.5 * art and y1 - y0 < 3.0 * abs(fepsp) + 1.0
    win._force_close = True


def test_baseline_average_is_not_a_pathway_colour_and_bands_are_labelled(qtbot, tbs_run):
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.InductionHeld))
    sp = win.sweep_plots[0]
    colour = sp.baseline.opts["pen"].color().name().upper()
    assert colour not in {c.upper() for c in PATHWAY_COLOURS}
    assert colour == THEMES["dark"].foreground.upper()
    names = {lab.format for lab in sp.band_labels}
    assert names == {"artifact", "baseline", "volley", "slope", "peak"}
    win._force_close = True


def test_event_labels_are_short_and_staggered(qtbot, tbs_run):
    win = _window(qtbot, tbs_run)
    lines = win.time_course.event_lines
    assert len(lines) >= 5
    texts = [ln.label.format for ln in lines]
    assert all(len(t) <= 28 for t in texts), texts
    pos = [ln.label.orthoPos for ln in lines]
    assert all(a != b for a, b in zip(pos, pos[1:], strict=False))
    win._force_close = True


def test_fiber_volley_time_course_and_ppr_only_with_pairs(qtbot, tbs_run, paired_run):
    win = _window(qtbot, tbs_run)
    x, y = win.side_courses.curves[("volley", 0)].getData()
    assert len(x) > 50 and np.all(y < 0)
    assert not win.side_courses.ppr.isVisible()
    win._force_close = True
    win2 = _window(qtbot, paired_run)
    assert win2.side_courses.ppr.isVisible()
    _, ppr = win2.side_courses.curves[("ppr", 0)].getData()
    assert len(ppr) == 4 and np.all((ppr > 1.0) & (ppr < 2.5))
    win2._force_close = True


def test_light_theme_colours_the_header_and_buttons(qtbot, tbs_run):
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.Alarm), theme="light")
    win._act_toggle_theme()
    win._act_toggle_theme()  # dark → light again: nothing keeps a dark colour
    light = THEMES["light"]
    img = win.header.grab().toImage()
    bg = img.pixelColor(img.width() // 2, img.height() - 3).name().upper()
    assert bg == light.background.upper()
    btn = win.buttons["pause"].grab().toImage()
    assert btn.pixelColor(btn.width() // 2, 3).lightness() > 200
    assert win.status_labels["elapsed"].property("colour") in (None, light.foreground)
    win._force_close = True


def test_the_io_view_is_never_a_strip(qtbot, tbs_run):
    win = _window(qtbot, tbs_run)
    assert win.io_widget.minimumHeight() >= 200
    win._force_close = True
    assert math.isfinite(win.model.elapsed_s) and isinstance(tbs_run.docs[-1], RunStop)


def test_intensity_beyond_20_percent_of_the_baseline_intensity_asks_first(qtbot, tbs_run):
    asked, answer = [], [False]

    def confirm(question):
        asked.append(question)
        return answer[0]
    win = _window(qtbot, tbs_run, until=lambda d: isinstance(d, ev.Paused), confirm=confirm)
    assert win.model.baseline_intensity_uA[0] == 100.0
    win.step_box.setValue(15.0)
    qtbot.mouseClick(win.buttons["intensity_up"], QtCore.Qt.LeftButton)  # 115 µA: +15 %, no question
    assert asked == [] and [c.delta_uA for c in drain(win.commands)] == [15.0]
    win.step_box.setValue(25.0)
    qtbot.mouseClick(win.buttons["intensity_up"], QtCore.Qt.LeftButton)  # 125 µA: +25 %
    assert len(asked) == 1 and "+25 % of the baseline intensity (100 µA)" in asked[0]
    assert drain(win.commands) == [] and "cancelled" in win.message.text()
    answer[0] = True
    qtbot.mouseClick(win.buttons["intensity_down"], QtCore.Qt.LeftButton)  # 75 µA: −25 %
    assert len(asked) == 2 and "-25 %" in asked[1]
    assert [c.delta_uA for c in drain(win.commands)] == [-25.0]
    win._force_close = True
