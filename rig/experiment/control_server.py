"""The local control endpoint of a run: a script steers the run (``rig ctl mark "washout started"``).

Transport: TCP on the loopback interface (127.0.0.1, an ephemeral port) or a Unix socket (mode
0600). Each run has a fresh secret token; the endpoint file ``<recording>.ctl.json`` (mode 0600,
next to the recording, removed at the end) holds the address and the token. One request per
connection: a JSON line ``{"token": …, "cmd": …, [text, pathway, delta_uA, data]}``; one JSON
line back: ``{"ok": true, …}`` or ``{"ok": false, "error": …}``. Commands go on the controller's
command queue with ``source="ctl"`` (recorded as ``operator`` events when the controller takes
them); ``status`` answers with the controller's status. Anything refused (wrong or missing token,
a non-loopback peer, bad JSON, unknown command) is recorded as an ``operator_refused`` event.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import socket
import socketserver
import threading
from pathlib import Path
from typing import Any

from rig.core.events import OperatorRefused

COMMANDS = ("pause", "resume", "stop", "mark", "induce_now", "extend_baseline", "intensity")
QUERIES = ("status",)
MAX_REQUEST_BYTES = 16_384
TIMEOUT_S = 2.0


def endpoint_path(recording: Path) -> Path:
    """The endpoint file of a recording: ``<recording>.ctl.json``."""
    return recording.with_name(recording.name + ".ctl.json")


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable and writable by the user only (0600), refusing to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def is_loopback(peer: Any) -> bool:
    """True for a loopback TCP peer or a Unix-socket peer."""
    if isinstance(peer, (str, bytes)) or peer is None:  # AF_UNIX: file permissions guard it
        return True
    try:
        return ipaddress.ip_address(peer[0]).is_loopback
    except (ValueError, IndexError, TypeError):
        return False


class _Handler(socketserver.StreamRequestHandler):
    timeout = TIMEOUT_S

    def handle(self) -> None:
        srv: ControlServer = self.server.control  # type: ignore[attr-defined]
        try:
            line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        except OSError:
            return
        reply = srv.answer(line, self.client_address)
        try:
            self.wfile.write((json.dumps(reply) + "\n").encode("utf-8"))
        except OSError:
            pass


class _TCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Unix(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class ControlServer:
    """Serves one run's controller. ``controller`` needs ``commands`` (a queue),
    ``external_events`` (a queue of rig.core.events types) and ``status`` (a dict)."""

    def __init__(self, controller: Any, recording: Path, *, unix_socket: bool = False,
                 host: str = "127.0.0.1") -> None:
        if not unix_socket and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"control endpoint must listen on loopback, not {host}")
        self.ctl = controller
        self.recording = Path(recording)
        self.path: Path | None = endpoint_path(self.recording)
        self.token = secrets.token_urlsafe(32)
        self.unix_socket = unix_socket
        self.host = host
        self.sock_path: Path | None = None
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None
        self.refused = 0

    def start(self) -> ControlServer:
        if self.unix_socket:
            self.sock_path = self.recording.with_name(self.recording.name + ".ctl.sock")
            old = os.umask(0o177)
            try:
                srv: socketserver.BaseServer = _Unix(str(self.sock_path), _Handler)
            finally:
                os.umask(old)
            os.chmod(self.sock_path, 0o600)
            info = {"transport": "unix", "path": str(self.sock_path)}
        else:
            srv = _TCP((self.host, 0), _Handler)
            info = {"transport": "tcp", "host": self.host, "port": srv.server_address[1]}
        srv.control = self  # type: ignore[attr-defined]
        self._server = srv
        try:
            write_private(self.path, json.dumps({**info, "token": self.token, "pid": os.getpid(),
                                                 "recording": str(self.recording)}))
        except OSError:
            self.path = None  # not ours: never remove it
            self.close()
            raise
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="rig-control", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; remove the endpoint file and the socket (idempotent)."""
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for serve_forever: only if it runs
                self._server.shutdown()
                self._thread.join(2.0)
                self._thread = None
            self._server.server_close()
            self._server = None
        for p in (self.path, self.sock_path):
            if p is not None:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -------------------------------------------------------------------------
    def _refuse(self, reason: str, peer: Any, cmd: str = "") -> dict:
        self.refused += 1
        data = {"peer": str(peer)}
        if cmd:
            data["cmd"] = cmd
        self.ctl.external_events.put(OperatorRefused(sample=0, text=f"control endpoint refused a request: {reason}",
                                                    reason=reason, source="ctl", extra=data))
        return {"ok": False, "error": reason}

    def answer(self, line: bytes, peer: Any) -> dict:
        """Check and act on one request line; returns the reply."""
        if not is_loopback(peer):
            return self._refuse("peer is not on the loopback interface", peer)
        if len(line) > MAX_REQUEST_BYTES:
            return self._refuse("request too long", peer)
        try:
            req = json.loads(line.decode("utf-8"))
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except (UnicodeDecodeError, ValueError):
            return self._refuse("malformed request (one JSON object per line expected)", peer)
        token = req.get("token")
        cmd = str(req.get("cmd", ""))[:32]
        if not isinstance(token, str) or not token:
            return self._refuse("missing token", peer, cmd)
        if not hmac.compare_digest(token.encode("utf-8"), self.token.encode("utf-8")):
            return self._refuse("wrong token", peer, cmd)
        if cmd in QUERIES:
            return {"ok": True, "status": dict(self.ctl.status)}
        if cmd not in COMMANDS:
            return self._refuse(f"unknown command {cmd!r}", peer, cmd)
        command: dict[str, Any] = {"cmd": cmd, "source": "ctl"}
        for key, typ in (("text", str), ("pathway", int), ("delta_uA", (int, float)), ("data", dict)):
            if key in req and req[key] is not None:
                if not isinstance(req[key], typ) or isinstance(req[key], bool):
                    return self._refuse(f"field {key!r} has the wrong type", peer, cmd)
                command[key] = req[key]
        if "text" in command:
            command["text"] = command["text"][:200]
        self.ctl.commands.put(command)
        return {"ok": True, "queued": cmd}


def request(endpoint: dict, payload: dict, timeout_s: float = 5.0) -> dict:
    """Client side: send one request to the endpoint described by ``endpoint`` (the file's JSON)."""
    if endpoint.get("transport") == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr: Any = endpoint["path"]
    else:
        host = endpoint.get("host", "127.0.0.1")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"refusing to send the token to a non-loopback host {host}")
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(endpoint["port"]))
    with s:
        s.settimeout(timeout_s)
        s.connect(addr)
        s.sendall((json.dumps(payload) + "\n").encode("utf-8"))
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf.decode("utf-8"))
