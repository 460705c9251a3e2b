"""The local control endpoint of a run: a script steers the run (``rig ctl mark "washout started"``).

Transport: TCP on the loopback interface (127.0.0.1, an ephemeral port) or a Unix socket (mode
0600). Each run has a fresh secret token; the endpoint file ``<recording>.ctl.json`` (mode 0600,
next to the recording, removed at the end) holds the address and the token. One request per
connection: a JSON line ``{"cmd": …, [text, pathway, delta_uA, data], "nonce": …, "time": …,
"mac": …}`` where ``mac`` is the HMAC-SHA256, keyed with the token, of the request without
``mac`` (JSON, sorted keys, no spaces): the token itself never goes over the socket, and a
captured request cannot be replayed (each nonce is taken once, and a request older than
``MAX_AGE_S`` is refused). One JSON line back: ``{"ok": true, …}`` or ``{"ok": false, "error": …}``.

Every field is checked here (types, finite numbers, ranges) and again by the controller. Commands
go on the controller's command queue with ``source="ctl"``; ``status`` answers with the
controller's status. Anything refused (bad signature, replay, a non-loopback peer, bad JSON, an
unknown command, a bad value, too many requests) is recorded as an ``operator_refused`` event —
coalesced: at most one event per ``COALESCE_S`` with the count of refusals it stands for, so a
flood cannot grow the file. The endpoint serves at most ``MAX_CONNECTIONS`` connections at once
(more are closed unread), each for at most ``TIMEOUT_S``, in threads of the lowest CPU priority.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
import secrets
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import Any

from rig.experiment.control_rules import (
    COMMANDS,
    MAX_AGE_S,
    QUERIES,
    RefusalLog,
    Refused,
    canonical,
    sign,
    validate_command,
)

__all__ = ["COMMANDS", "QUERIES", "ControlServer", "Refused", "request", "sign", "validate_command"]

MAX_REQUEST_BYTES = 16_384
TIMEOUT_S = 1.0
MAX_CONNECTIONS = 4
MAX_COMMANDS_PER_S = 10


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

    def setup(self) -> None:
        _lower_priority()
        super().setup()

    def handle(self) -> None:
        srv: ControlServer = self.server.control  # type: ignore[attr-defined]
        try:
            line = self.rfile.readline(MAX_REQUEST_BYTES + 1)
        except OSError:  # a client that sends nothing within TIMEOUT_S
            return
        reply = srv.answer(line, self.client_address)
        try:
            self.wfile.write((json.dumps(reply) + "\n").encode("utf-8"))
        except OSError:
            pass


def _lower_priority() -> None:
    """Give the calling thread the lowest CPU priority (Linux: nice is per thread)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


class _Bounded(socketserver.ThreadingMixIn):
    """At most ``MAX_CONNECTIONS`` requests served at once; more are closed unread (and counted)."""

    daemon_threads = True
    block_on_close = False
    control: ControlServer

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.control.slots.acquire(blocking=False):
            self.control.refusals.add("too many connections at once", client_address)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[misc]
        finally:
            self.control.slots.release()

    def service_actions(self) -> None:
        self.control.refusals.flush()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.control.refusals.add("internal error while serving a request", client_address)


class _TCP(_Bounded, socketserver.TCPServer):
    allow_reuse_address = True
    request_queue_size = 16


class _Unix(_Bounded, socketserver.UnixStreamServer):
    request_queue_size = 16


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
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.refusals = RefusalLog(controller.external_events.put)
        self._nonces: dict[str, float] = {}
        self._recent: list[float] = []  # monotonic times of the last accepted commands
        self._lock = threading.Lock()

    @property
    def refused(self) -> int:
        """Requests refused so far (each counted, though recorded coalesced)."""
        return self.refusals.total

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
        self._thread = threading.Thread(target=self._serve, name="rig-control", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        _lower_priority()
        assert self._server is not None
        self._server.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        """Stop serving; record pending refusals; remove the endpoint file and the socket (idempotent)."""
        if self._server is not None:
            if self._thread is not None:  # shutdown() waits for serve_forever: only if it runs
                self._server.shutdown()
                self._thread.join(2.0)
                self._thread = None
            self._server.server_close()
            self._server = None
        self.refusals.flush(force=True)
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
        self.refusals.add(reason, peer, cmd)
        return {"ok": False, "error": reason}

    def answer(self, line: bytes, peer: Any) -> dict:
        """Check and act on one request line; returns the reply (never raises)."""
        try:
            return self._answer(line, peer)
        except Refused as exc:
            return self._refuse(str(exc), peer)
        except Exception as exc:  # noqa: BLE001 - a request never reaches the run's stderr
            return self._refuse(f"internal error ({type(exc).__name__})", peer)

    def _answer(self, line: bytes, peer: Any) -> dict:
        if not is_loopback(peer):
            raise Refused("peer is not on the loopback interface")
        if len(line) > MAX_REQUEST_BYTES:
            raise Refused("request too long")
        try:
            req = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Refused("malformed request (one JSON object per line expected)") from None
        if not isinstance(req, dict):
            raise Refused("malformed request (one JSON object per line expected)")
        cmd = str(req.get("cmd", ""))[:32]
        self._authenticate(req, cmd, peer)
        if cmd in QUERIES:
            return {"ok": True, "status": dict(self.ctl.status)}
        try:
            command = validate_command(req)
        except Refused as exc:
            return self._refuse(str(exc), peer, cmd)
        with self._lock:
            now = time.monotonic()
            self._recent = [t for t in self._recent if now - t < 1.0]
            if len(self._recent) >= MAX_COMMANDS_PER_S:
                return self._refuse(f"more than {MAX_COMMANDS_PER_S} commands per second", peer, cmd)
            self._recent.append(now)
        why = self.ctl.refusal(command) if hasattr(self.ctl, "refusal") else None
        if why:  # refused by the wiring (a TTL-only pathway): the answer says why
            return self._refuse(why, peer, cmd)
        self.refusals.flush(force=True)  # the refusals before a command are recorded before it
        self.ctl.commands.put(command)
        return {"ok": True, "queued": cmd}

    def _authenticate(self, req: dict, cmd: str, peer: Any) -> None:
        if "token" in req:
            raise Refused("token sent in clear: requests are signed (use rig ctl)")
        mac = req.get("mac")
        if not isinstance(mac, str) or not mac:
            raise Refused("missing signature")
        want = hmac.new(self.token.encode("utf-8"), canonical(req), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac.encode("utf-8", "replace"), want.encode("utf-8")):
            raise Refused("wrong signature")
        nonce, sent = req.get("nonce"), req.get("time")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
            raise Refused("missing nonce")
        if isinstance(sent, bool) or not isinstance(sent, (int, float)) or not math.isfinite(sent):
            raise Refused("missing time")
        now = time.time()
        if abs(now - sent) > MAX_AGE_S:
            raise Refused("stale request (replayed, or the clocks disagree)")
        with self._lock:
            self._nonces = {n: t for n, t in self._nonces.items() if now - t <= 2 * MAX_AGE_S}
            if nonce in self._nonces:
                raise Refused("replayed request (nonce already used)")
            self._nonces[nonce] = now


def request(endpoint: dict, payload: dict, timeout_s: float = 5.0) -> dict:
    """Client side: send one request to the endpoint described by ``endpoint`` (the file's JSON).
    A payload with ``token`` is signed with it (:func:`sign`); the token is not sent."""
    if endpoint.get("transport") == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr: Any = endpoint["path"]
    else:
        host = endpoint.get("host", "127.0.0.1")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"refusing to send the token to a non-loopback host {host}")
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(endpoint["port"]))
    if "token" in payload:
        payload = sign(payload, str(payload["token"]))
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
