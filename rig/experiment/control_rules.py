"""The rules of the control endpoint (rig.experiment.control_server): request signing (HMAC of
the request with the run's token, a nonce and the wall time: the token never travels and a captured
request cannot be replayed), validation of every field, and the coalescing of refusals into few
``operator_refused`` events."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from typing import Any

from rig.core.events import OperatorRefused

COMMANDS = ("pause", "resume", "stop", "mark", "induce_now", "extend_baseline", "intensity")
QUERIES = ("status",)
MAX_AGE_S = 60.0  # a signed request older (or newer) than this is refused: replay window
COALESCE_S = 5.0  # at most one operator_refused event per this many seconds
MAX_DELTA_UA = 10_000.0
MAX_PATHWAYS = 64


class Refused(ValueError):
    """A request the endpoint refuses; the message is the reason recorded and sent back."""


def canonical(req: dict) -> bytes:
    """The bytes a request's ``mac`` covers: the request without ``mac``, sorted keys, no spaces."""
    body = {k: v for k, v in req.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(payload: dict, token: str) -> dict:
    """Client side: the payload with a fresh nonce, the wall time and its ``mac`` (no token)."""
    req = {k: v for k, v in payload.items() if k != "token"}
    req["nonce"] = secrets.token_hex(16)
    req["time"] = time.time()
    req["mac"] = hmac.new(token.encode("utf-8"), canonical(req), hashlib.sha256).hexdigest()
    return req


def _number(req: dict, key: str, lo: float, hi: float) -> float:
    v = req[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise Refused(f"field {key!r} must be a number")
    if not math.isfinite(v):
        raise Refused(f"field {key!r} is not a finite number")
    if not lo <= v <= hi:
        raise Refused(f"field {key!r} = {v:g} outside [{lo:g}, {hi:g}]")
    return float(v)


def validate_command(req: dict) -> dict:
    """The controller command for a request (already authenticated), or :class:`Refused`."""
    cmd = req.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        raise Refused(f"unknown command {str(cmd)[:32]!r}")
    allowed = {"cmd", "nonce", "time", "mac", "text", "pathway", "delta_uA", "data"}
    extra = sorted(str(k)[:32] for k in req if k not in allowed)
    if extra:
        raise Refused(f"unknown field(s) {extra}")
    command: dict[str, Any] = {"cmd": cmd, "source": "ctl"}
    if req.get("text") is not None:
        if not isinstance(req["text"], str):
            raise Refused("field 'text' must be a string")
        command["text"] = req["text"][:200]
    if req.get("pathway") is not None:
        pw = req["pathway"]
        if isinstance(pw, bool) or not isinstance(pw, int) or not 0 <= pw < MAX_PATHWAYS:
            raise Refused(f"field 'pathway' must be an integer in [0, {MAX_PATHWAYS - 1}]")
        command["pathway"] = pw
    if req.get("delta_uA") is not None:
        command["delta_uA"] = _number(req, "delta_uA", -MAX_DELTA_UA, MAX_DELTA_UA)
    if cmd == "intensity" and ("pathway" not in command or "delta_uA" not in command):
        raise Refused("intensity needs 'pathway' and 'delta_uA'")
    if req.get("data") is not None:
        data = req["data"]
        if cmd != "extend_baseline" or not isinstance(data, dict) or set(data) - {"seconds"}:
            raise Refused("field 'data' is only {\"seconds\": N} of extend_baseline")
        if "seconds" in data:
            secs = _number(data, "seconds", 0.0, 24 * 3600.0)
            if secs <= 0:
                raise Refused("field 'seconds' must be > 0")
            command["data"] = {"seconds": secs}
    return command


class RefusalLog:
    """Coalesces refusals into ``operator_refused`` events: the first of a quiet spell at once,
    then at most one per ``interval_s`` carrying the count and the reasons it stands for."""

    def __init__(self, put: Any, interval_s: float = COALESCE_S) -> None:
        self.put = put
        self.interval_s = interval_s
        self.total = 0
        self._pending: dict[str, int] = {}
        self._last_peer = ""
        self._last_cmd = ""
        self._last_emit = -math.inf
        self._lock = threading.Lock()

    def add(self, reason: str, peer: Any, cmd: str = "") -> None:
        with self._lock:
            self.total += 1
            self._pending[reason] = self._pending.get(reason, 0) + 1
            self._last_peer = str(peer)[:64]
            self._last_cmd = cmd[:32]
        self.flush()

    def flush(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not self._pending or (not force and now - self._last_emit < self.interval_s):
                return
            pending, self._pending = self._pending, {}
            self._last_emit = now
        count = sum(pending.values())
        reason = max(pending, key=pending.get)  # type: ignore[arg-type]
        extra: dict[str, Any] = {"peer": self._last_peer}
        if self._last_cmd:
            extra["cmd"] = self._last_cmd
        if len(pending) > 1 or count > 1:
            extra["reasons"] = dict(list(pending.items())[:8])
        text = f"control endpoint refused a request: {reason}" if count == 1 else \
            f"control endpoint refused {count} requests (mostly: {reason})"
        self.put(OperatorRefused(sample=0, text=text[:250], reason=reason, source="ctl", count=count,
                                extra=extra))
