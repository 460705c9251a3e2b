"""Operator control: the local endpoint (token, loopback, refusals), `rig ctl`, terminal keys."""

from __future__ import annotations

import json
import os
import queue
import socket
import stat
import time

import pytest

import tests.cl_harness as h
from rig.cli import main
from rig.closed_loop.controller import Controller
from rig.experiment.control_server import ControlServer, is_loopback, request
from rig.experiment.keys import KeyReader


def _controller() -> Controller:
    c = Controller(h.make_plan([h.baseline(60, 120), h.tbs(trains=1), h.follow_up(30)]), limits=h.LIMITS)
    c.schedule(int(1 * h.FS))
    return c


@pytest.fixture(params=[False, True], ids=["tcp", "unix"])
def server(request, tmp_path):
    ctl = _controller()
    srv = ControlServer(ctl, tmp_path / "rec.h5", unix_socket=request.param).start()
    yield srv
    srv.close()


def test_endpoint_file_is_private_and_removed_at_close(tmp_path):
    srv = ControlServer(_controller(), tmp_path / "rec.h5").start()
    mode = stat.S_IMODE(os.stat(srv.path).st_mode)
    assert mode == 0o600
    ep = json.loads(srv.path.read_text())
    assert ep["host"] == "127.0.0.1" and len(ep["token"]) >= 32
    srv.close()
    assert not srv.path.exists()


def test_ctl_commands_reach_the_controller_and_are_recorded(server, capsys):
    ep = str(server.path)
    assert main(["ctl", "--endpoint", ep, "mark", "washout", "started"]) == 0
    assert main(["ctl", "--endpoint", ep, "intensity", "S1", "+10"]) == 0
    assert main(["ctl", "--endpoint", ep, "induce-now"]) == 0
    docs = server.ctl.poll(5000)
    ops = [(d.data["cmd"], d.data["source"], d.data["accepted"]) for d in docs if d.kind == "operator"]
    assert ops == [("mark", "ctl", True), ("intensity", "ctl", True), ("induce_now", "ctl", True)]
    assert docs[0].data["text"] == "washout started"
    assert server.ctl.intensity_uA[0] == 110.0
    capsys.readouterr()
    assert main(["ctl", "--endpoint", ep, "status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["ok"] and st["status"]["phase_kind"] == "baseline" and st["status"]["intensity_uA"][0] == 110.0


def test_wrong_or_missing_token_is_refused_and_logged(server, tmp_path, capsys):
    ep = json.loads(server.path.read_text())
    assert request(ep, {"cmd": "stop"}) == {"ok": False, "error": "missing signature"}
    assert request(ep, {"cmd": "stop", "token": ep["token"][:-1] + "x"}) == {"ok": False, "error": "wrong signature"}
    assert request(ep, {"cmd": "rm -rf", "token": ep["token"]})["ok"] is False
    bad = tmp_path / "bad.ctl.json"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps({**ep, "token": "guess"}).encode())
    os.close(fd)
    assert main(["ctl", "--endpoint", str(bad), "pause"]) == 2
    assert "wrong signature" in capsys.readouterr().err
    assert server.ctl.commands.empty() and server.ctl.stop_request is None
    server.refusals.flush(force=True)  # refusals within COALESCE_S are recorded as one event
    refused = [d for d in server.ctl.poll(100) if d.kind == "operator_refused"]
    assert refused[0].data["reason"] == "missing signature" and refused[0].data["count"] == 1
    assert sum(d.data["count"] for d in refused) == 4 == server.refused
    assert refused[-1].data["reasons"] == {"wrong signature": 2, "unknown command 'rm -rf'": 1}
    assert all(ep["token"] not in json.dumps(d.data) for d in refused)


def test_garbage_is_refused(tmp_path):
    srv = ControlServer(_controller(), tmp_path / "rec.h5").start()
    try:
        ep = json.loads(srv.path.read_text())
        with socket.create_connection(("127.0.0.1", ep["port"]), timeout=5) as s:
            s.sendall(b"\xff\xfe not json\n")
            reply = json.loads(s.makefile().readline())
        assert reply["ok"] is False and "malformed" in reply["error"]
        assert srv.refused == 1
    finally:
        srv.close()


def test_only_loopback_is_served():
    assert is_loopback(("127.0.0.1", 5)) and is_loopback(("::1", 5, 0, 0)) and is_loopback("")
    assert not is_loopback(("192.168.1.20", 5)) and not is_loopback(("0.0.0.0", 5))
    with pytest.raises(ValueError, match="loopback"):
        ControlServer(_controller(), h.__file__, host="0.0.0.0")  # type: ignore[arg-type]


def test_ctl_refuses_an_endpoint_file_others_can_read(tmp_path):
    p = tmp_path / "x.ctl.json"
    p.write_text(json.dumps({"transport": "tcp", "host": "127.0.0.1", "port": 1, "token": "t"}))
    os.chmod(p, 0o644)
    assert main(["ctl", "--endpoint", str(p), "status"]) == 2


def test_ctl_without_a_running_experiment_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RIG_CTL_ENDPOINT", raising=False)
    assert main(["ctl", "status"]) == 2
    p = tmp_path / "gone.ctl.json"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, json.dumps({"transport": "tcp", "host": "127.0.0.1", "port": 1, "token": "t"}).encode())
    os.close(fd)
    assert main(["ctl", "--endpoint", str(p), "pause"]) == 1  # nothing listening


def test_terminal_keys_become_commands_on_a_tty():
    master, slave = os.openpty()
    q: queue.Queue = queue.Queue()
    with open(slave, closefd=True) as tty_in, open(os.devnull, "w") as sink:
        kr = KeyReader(q, stream=tty_in, echo=sink)
        assert kr.start()
        try:
            os.write(master, b"pxmslice moved?\rs")
            deadline = time.monotonic() + 5
            got = []
            while len(got) < 2 and time.monotonic() < deadline:
                try:
                    got.append(q.get(timeout=0.1))
                except queue.Empty:
                    pass
        finally:
            kr.close()
    os.close(master)
    assert [(c["cmd"], c["source"]) for c in got] == [("pause", "terminal"), ("mark", "terminal")]
    assert got[1]["text"] == "slice moved?"  # typed at the note prompt: text, not commands
    assert q.empty()  # "x" ignored; a single "s" only arms the stop


def test_keys_not_started_without_a_tty(tmp_path):
    with open(tmp_path / "f", "w+") as f:
        assert not KeyReader(queue.Queue(), stream=f).start()


def test_operator_control_session_serves_during_a_run_and_cleans_up(tmp_path):
    from rig.experiment.session import OperatorControl, make_controller
    from rig.protocol.rigfile import load_rig

    rig, _ = load_rig(None)
    ctl = make_controller(h.make_plan([h.follow_up(30)]), rig)
    assert ctl.limits.max_intensity_uA == rig.limits.max_intensity_uA and ctl.resolution_uA == 1.0
    rec = tmp_path / "run.h5"
    with OperatorControl(ctl, rec, keys=True, announce=False) as oc:
        assert oc.keys is None  # stdin is not a terminal under pytest
        assert oc.server is not None
        assert main(["ctl", "--endpoint", str(oc.server.path), "mark", "hello"]) == 0
        assert ctl.commands.get_nowait()["text"] == "hello"
    assert not oc.server.path.exists()
    with OperatorControl(ctl, tmp_path / "b.h5", endpoint=False) as oc2:
        assert oc2.server is None and not list(tmp_path.glob("b.h5*"))


def test_stop_key_needs_a_different_confirming_key(tmp_path):
    q: queue.Queue = queue.Queue()
    with open(os.devnull, "w") as sink:
        kr = KeyReader(q, stream=None, echo=sink)
        assert kr.key("s") is None and q.empty()
        assert kr.key("s") is None and q.empty()  # the same key twice cancels: never a stop by a double tap
        assert kr.key("s") is None
        assert kr.key("y") == {"cmd": "stop", "source": "terminal"}
        assert kr.key("e")["data"] == {"seconds": 300.0}
        assert kr.key("+") == {"cmd": "intensity", "pathway": 0, "delta_uA": 5.0, "source": "terminal"}


def test_a_run_goes_on_when_its_endpoint_cannot_start(tmp_path, capsys):
    from rig.experiment.session import OperatorControl

    ctl = _controller()
    rec = tmp_path / "run.h5"
    (tmp_path / "run.h5.ctl.json").write_text("{}")  # a stale endpoint file is never overwritten
    with OperatorControl(ctl, rec) as oc:
        assert oc.server is None
    assert "unavailable" in capsys.readouterr().err
    assert [d.kind for d in ctl.poll(10)] == ["control_unavailable"]
    assert (tmp_path / "run.h5.ctl.json").read_text() == "{}"  # left as it was
