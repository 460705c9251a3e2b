"""Regression of issue 17 (High): a local flood of the control endpoint wrote one event per refused
request (13–20 MB files) and took time from acquisition (gaps, missed stimuli). A real socket flood
(loopback, bounded count and time) against a real run. Failed before the fix (file size, events)."""

from __future__ import annotations

import json
import socket
import threading
import time

from rig.experiment.control_server import request
from rig.storage import open_recording
from tests.hostile_run import LiveRun

FLOOD_S = 8.0
MAX_CONNECTIONS = 4000


def _flood(ep: dict, stop_at: float, sent: list[int], captured: dict) -> None:
    payloads = [b'{"cmd": "stop", "token": "guess"}\n', b"not json\n", b"[" * 15_000 + b"\n",
                json.dumps(captured).encode() + b"\n"]  # a replay of a valid, captured request
    i = 0
    while time.monotonic() < stop_at and sum(sent) < MAX_CONNECTIONS:
        try:
            with socket.create_connection((ep["host"], ep["port"]), timeout=1.0) as s:
                s.sendall(payloads[i % len(payloads)])
                s.recv(256)
        except OSError:
            pass
        sent.append(1)
        i += 1


def test_a_control_endpoint_flood_neither_bloats_the_file_nor_costs_samples(tmp_path):
    run = LiveRun(tmp_path, minutes=30.0, interval_s=2.0, speed=10.0)
    try:
        ep = run.wait_endpoint()
        from rig.experiment.control_server import sign
        captured = sign({"cmd": "mark", "text": "captured"}, ep["token"])
        import rig.experiment.control_server as cs
        cs_sign, cs.sign = cs.sign, lambda payload, token: captured  # send exactly the captured request
        try:
            first = request(ep, {"cmd": "mark", "token": ep["token"]})
        finally:
            cs.sign = cs_sign
        sent: list[int] = []
        stop_at = time.monotonic() + FLOOD_S
        threads = [threading.Thread(target=_flood, args=(ep, stop_at, sent, captured)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        alive = request(ep, {"cmd": "status", "token": ep["token"]})
        request(ep, {"cmd": "stop", "token": ep["token"]})
        rc, _, err = run.finish()
    finally:
        run.kill()
    assert first["ok"] and alive["ok"], (first, alive)
    assert rc == 130 and "Traceback" not in err, err
    assert len(sent) > 200  # the flood really happened
    size = run.out.stat().st_size
    with open_recording(run.out) as rec:
        refused = [e for e in rec.events if e["kind"] == "operator_refused"]
        marks = [e for e in rec.events if e["kind"] == "operator" and e["data"].get("cmd") == "mark"]
        gaps, lost = int(rec.status["gaps"]), int(rec.status["lost_samples"])
        late = int(rec.status["late_writes"])
    assert len(marks) == 1  # the replay of the captured request was refused
    assert len(refused) <= 2 + FLOOD_S / 5.0 + 2  # coalesced: about one event per 5 s burst
    assert sum(e["data"].get("count", 1) for e in refused) >= len(sent) // 2
    assert size < 3_000_000, size
    assert gaps == 0 and lost == 0 and late == 0
