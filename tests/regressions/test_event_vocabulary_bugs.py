"""Regressions of the event-vocabulary issue: the window never showed PAUSED, drew the default
detector windows, offered buttons whose commands the controller refused and hid refusals; an
empty ``[alarms]`` table turned the default alarms off. Each test drives the real producers (a
simulated run through rig.experiment.runner) and checks what the user sees."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from rig.closed_loop.controller import Controller  # noqa: E402
from rig.core.commands import make_command_queue  # noqa: E402
from rig.core.documents import RunStart  # noqa: E402
from rig.display.window import RigWindow  # noqa: E402
from rig.protocol.load import expand, load_protocol  # noqa: E402
from rig.protocol.rigfile import load_rig  # noqa: E402
from tests.conftest import baseline_toml  # noqa: E402
from tests.event_run import FS, record_run  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return record_run(tmp_path_factory.mktemp("events"))


def _window(qtbot, docs, q=None) -> RigWindow:
    win = RigWindow(None, q if q is not None else make_command_queue())
    qtbot.addWidget(win)
    win.model.apply_all(docs)
    win.redraw()
    return win


def _until(docs, t_s: float) -> list:
    """The documents up to experiment time ``t_s`` (sample clock)."""
    out = []
    for d in docs:
        s = getattr(d, "sample", getattr(d, "start_sample", 0))
        if s > t_s * FS:
            break
        out.append(d)
    return out


def test_window_shows_paused_after_operator_pause(run, qtbot):
    win = _window(qtbot, _until(run.docs, 45.0))  # the operator paused at 30 s
    assert win.status_labels["state"].text() == "PAUSED"
    win.model.apply_all(_until(run.docs, 60.0)[len(_until(run.docs, 45.0)):])  # resumed at 55 s
    win.redraw()
    assert win.status_labels["state"].text() == "RECORDING"
    win._force_close = True


def test_window_shows_the_intensity_the_operator_set(run, qtbot):
    win = _window(qtbot, _until(run.docs, 80.0))  # +10 µA at 75 s, before any later test sweep
    assert "S1 110 µA" in win.status_labels["intensity"].text()
    win._force_close = True


def test_live_window_draws_the_windows_in_use(tmp_path, qtbot):
    r = record_run(tmp_path, windows=["slope=2.2:3.1", "volley=1.1:2.0"])
    start = next(d for d in r.docs if isinstance(d, RunStart))
    win = _window(qtbot, [start, *r.docs[1:40]])
    assert win.sweep_plots[0].regions["slope"].getRegion() == pytest.approx((2.2, 3.1))
    assert win.sweep_plots[0].regions["volley"].getRegion() == pytest.approx((1.1, 2.0))
    win._force_close = True


def test_every_window_button_sends_a_command_the_controller_accepts(run, qtbot, tmp_path):
    """Clicked during the baseline, every live button's command is one the controller acts on."""
    q = make_command_queue()
    win = _window(qtbot, _until(run.docs, 20.0), q)
    win.ask_text = lambda prompt: "note"
    proto = tmp_path / "b.toml"
    proto.write_text(baseline_toml(10.0, 5.0) + '\n[[phases]]\nkind = "follow_up"\nname = "f"\nduration_min = 1.0\n'
                     'interval_s = 5.0\n')
    plan = expand(load_protocol(proto)[0], load_rig(None)[0], str(proto))
    for name, button in win.buttons.items():
        if name in ("toggle_field", "toggle_theme", "stop"):
            continue
        ctl = Controller(plan)
        ctl.schedule(int(10 * FS))
        button.click()
        sent = []
        while not q.empty():
            sent.append(q.get_nowait())
        assert sent, name
        for cmd in sent:
            rec = ctl.handle_command(cmd)[0]
            assert rec.data["accepted"], (name, rec.text)
    win._force_close = True


def test_reanalyse_remeasures_the_sweeps_the_window_holds(run, qtbot):
    win = _window(qtbot, _until(run.docs, 80.0))
    tc = win.model.time_course[0]
    before = tc["slope"].copy()
    region = win.sweep_plots[0].regions["slope"]  # the operator drags S1's slope window late
    region.setRegion((4.0, 5.5))
    win._on_window_moved("slope", region, pathway=0)
    win.actions["reanalyse"].trigger()
    assert "re-analysed S1" in win.message.text()
    changed = (before != tc["slope"]).sum()
    assert changed >= 3, (before, tc["slope"])
    win._force_close = True


def test_refused_command_reason_shown_in_status_line(run, qtbot):
    win = _window(qtbot, run.docs)  # extend_baseline during the follow-up was refused
    assert "refused: not in a baseline phase" in win.message.text()
    win._force_close = True


def test_empty_alarms_table_keeps_default_alarms(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(baseline_toml(1.0, 10.0) + "\n[alarms]\n")
    plan = expand(load_protocol(p)[0], load_rig(None)[0], str(p))
    cfg = Controller(plan).alarms.cfg
    assert cfg["response_lost"]["enabled"] and cfg["noise"]["enabled"]
