"""Terminal keys → operator commands when the run is headless (stdin is a terminal).

``p`` pause, ``r`` resume, ``m`` mark, ``i`` induce now, ``e`` extend the baseline (5 min),
``s`` twice within 3 s stop, ``+``/``-`` S1 intensity ±5 µA, ``?`` help. Each key puts a command
dict with ``source="terminal"`` on the controller's queue; the terminal is put in cbreak mode
while the run lasts and restored afterwards.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
import time
from typing import IO

HELP = "keys: p pause · r resume · m mark · i induce now · e extend baseline 5 min · s s stop · +/- S1 ±5 µA"
KEYMAP: dict[str, dict] = {
    "p": {"cmd": "pause"},
    "r": {"cmd": "resume"},
    "m": {"cmd": "mark", "text": "mark (terminal key)"},
    "i": {"cmd": "induce_now"},
    "e": {"cmd": "extend_baseline", "data": {"seconds": 300.0}},
    "+": {"cmd": "intensity", "pathway": 0, "delta_uA": 5.0},
    "-": {"cmd": "intensity", "pathway": 0, "delta_uA": -5.0},
}
STOP_CONFIRM_S = 3.0


class KeyReader:
    """Reads single keys from ``stream`` (a TTY) on a daemon thread until :meth:`close`."""

    def __init__(self, commands: queue.Queue, stream: IO | None = None, echo: IO | None = None) -> None:
        self.commands = commands
        self.stream = stream if stream is not None else sys.stdin
        self.echo = echo if echo is not None else sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None
        self._stop_armed_at = -1e9

    def start(self) -> bool:
        """Start if the stream is a terminal; False (nothing started) otherwise."""
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        if not os.isatty(fd):
            return False
        import termios
        import tty

        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread = threading.Thread(target=self._loop, args=(fd,), name="rig-keys", daemon=True)
        self._thread.start()
        self._say(HELP)
        return True

    def _say(self, text: str) -> None:
        try:
            print(f"\nrig: {text}", file=self.echo, flush=True)
        except (OSError, ValueError):
            pass

    def key(self, ch: str) -> dict | None:
        """Translate one key into a command (and queue it); None for an ignored key."""
        if ch == "?":
            self._say(HELP)
            return None
        if ch == "s":
            now = time.monotonic()
            if now - self._stop_armed_at > STOP_CONFIRM_S:
                self._stop_armed_at = now
                self._say("press s again within 3 s to stop the run")
                return None
            cmd = {"cmd": "stop"}
        elif ch in KEYMAP:
            cmd = dict(KEYMAP[ch])
        else:
            return None
        cmd["source"] = "terminal"
        self.commands.put(cmd)
        self._say(f"{cmd['cmd']} sent")
        return cmd

    def _loop(self, fd: int) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(fd, 32)
            except OSError:
                return
            if not data:
                return
            for ch in data.decode("utf-8", "ignore"):
                self.key(ch)

    def close(self) -> None:
        """Stop reading and restore the terminal (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            except (OSError, ValueError):
                pass
            self._saved = None
