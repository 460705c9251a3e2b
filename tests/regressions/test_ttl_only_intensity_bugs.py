"""Issue 21: operator ``intensity ±`` on a TTL-only pathway (amplitude on the isolator's front
panel) was accepted at run time: the controller recorded an ``intensity_set`` the rig can never
deliver, the terminal said "sent", ``rig ctl`` said ok. Now refused with the reason in the
controller's record, the terminal, the window's status line and the ``rig ctl`` answer. Each test
failed on the code before the fix."""

import io
import os
import queue

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore  # noqa: E402

import tests.cl_harness as h  # noqa: E402
from rig.bench.synthetic_stream import ltp_stream  # noqa: E402
from rig.cli import main  # noqa: E402
from rig.core import events as ev  # noqa: E402
from rig.core.commands import drain, make_command_queue  # noqa: E402
from rig.display.feed import DisplayFeed  # noqa: E402
from rig.display.window import RigWindow  # noqa: E402
from rig.experiment.control_server import ControlServer  # noqa: E402
from rig.experiment.keys import KeyReader  # noqa: E402
from rig.experiment.session import make_controller  # noqa: E402
from rig.protocol.rigfile import parse_rig  # noqa: E402

TTL_RIG = """
backend = "sim"
do_lines = ["port0/line0", "port0/line1"]

[[ai]]
name = "field"
channel = "ai0"
gain = 1000.0

[[stim]]
pathway = "S1"
trigger_line = "port0/line0"      # a DS3: current and width on its front panel

[[stim]]
pathway = "S2"
ao = "ao0"
uA_per_V = 100.0
"""


def _controller():
    plan = h.make_plan([h.baseline(60, 120, pathways=(0, 1)), h.follow_up(30)], pathways=(0, 1))
    ctl = make_controller(plan, parse_rig(TTL_RIG, "rig.toml"))
    ctl.schedule(int(1 * h.FS))
    return ctl


def test_controller_refuses_intensity_on_a_ttl_only_pathway_with_the_reason():
    ctl = _controller()
    docs = ctl.handle_command({"cmd": "intensity", "pathway": 0, "delta_uA": 5.0, "source": "window"})
    op = [d for d in docs if isinstance(d, ev.Operator)]
    assert len(op) == 1 and not op[0].accepted
    assert "S1 is TTL-only" in op[0].text and "front panel" in op[0].text
    assert not any(isinstance(d, ev.IntensitySet) for d in docs)
    assert ctl.intensity_uA[0] == 100.0
    docs = ctl.handle_command({"cmd": "intensity", "pathway": 1, "delta_uA": 5.0, "source": "window"})
    assert [d.accepted for d in docs if isinstance(d, ev.Operator)] == [True]  # S2 has an analog command
    assert ctl.intensity_uA[1] == 105.0


def test_terminal_says_refused_and_why():
    ctl = _controller()
    echo = io.StringIO()
    keys = KeyReader(ctl.commands, stream=io.StringIO(), echo=echo, refusal=ctl.refusal)
    keys.key("+")
    assert "intensity refused: S1 is TTL-only" in echo.getvalue() and "sent" not in echo.getvalue()
    docs = ctl.handle_command(ctl.commands.get_nowait())  # still recorded, as refused
    assert [d.accepted for d in docs if isinstance(d, ev.Operator)] == [False]


def test_rig_ctl_answer_is_the_refusal(tmp_path, capsys):
    ctl = _controller()
    srv = ControlServer(ctl, tmp_path / "rec.h5").start()
    try:
        assert main(["ctl", "--endpoint", str(srv.path), "intensity", "S1", "+5"]) == 2
        assert "refused: S1 is TTL-only" in capsys.readouterr().err
        assert main(["ctl", "--endpoint", str(srv.path), "intensity", "S2", "+5"]) == 0
    finally:
        srv.close()
    queued = []
    while True:
        try:
            queued.append(ctl.commands.get_nowait())
        except queue.Empty:
            break
    assert [c["pathway"] for c in queued] == [1]  # the refused one never reached the controller


def test_window_status_line_shows_the_refusal(qtbot):
    ctl = _controller()
    feed = DisplayFeed(max_frames=1000)
    q = make_command_queue()
    win = RigWindow(feed, q, intensity_limits_uA=(0.0, 800.0))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    for d in ltp_stream(baseline_min=2, followup_min=2):
        if type(d).__name__ != "RunStop":
            feed(d)
    win.tick()
    drain(q)
    qtbot.mouseClick(win.buttons["intensity_up"], QtCore.Qt.LeftButton)  # S1 selected: intensity +
    (cmd,) = drain(q)
    for d in ctl.handle_command(cmd):
        feed(d)
    win.tick()
    assert "S1 is TTL-only" in win.message.text() and "refused" in win.message.text()
    assert win.model.reply_refused
