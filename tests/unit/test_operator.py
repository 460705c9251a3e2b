"""Operator command objects and the command queue."""

import queue

import pytest

from rig.core.commands import COMMANDS, Command, drain, make_command_queue, post


def test_every_documented_command_builds_and_round_trips():
    for name in COMMANDS:
        kw = {"pathway": 1, "delta_uA": -5.0} if name == "intensity" else {}
        c = Command(name, **kw)
        assert Command.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("bad", [{"cmd": "explode"}, {"cmd": "intensity", "pathway": 0},
                                 {"cmd": "mark", "colour": "red"}])
def test_invalid_commands_are_refused(bad):
    with pytest.raises(ValueError):
        Command.from_dict(bad)


def test_post_validates_dicts_and_drain_returns_in_order():
    q = make_command_queue()
    post(q, {"cmd": "mark", "text": "drug on", "source": "ctl"})
    post(q, Command("pause"))
    out = drain(q)
    assert [c.cmd for c in out] == ["mark", "pause"]
    assert out[0].text == "drug on" and out[0].source == "ctl"
    assert drain(q) == []
    with pytest.raises(queue.Empty):
        q.get_nowait()
