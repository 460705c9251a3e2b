"""Terminal keys → operator commands when the run is headless (stdin is a terminal).

``p`` pause, ``r`` resume, ``m`` note (a text prompt: Enter sends the mark, Esc cancels; keys
typed there are text, never commands), ``i`` induce now and ``s`` stop (irreversible: each
needs ``y`` within 3 s; any other key cancels), ``e`` extend the baseline (5 min), ``+``/``-``
S1 intensity ±5 µA (beyond ±20 % of the baseline intensity it too needs ``y`` within 3 s),
``?`` help. Each command goes on the controller's queue with
``source="terminal"``; the terminal is in cbreak mode while the run lasts and restored afterwards.
While a prompt or a confirmation is open the progress bar stays quiet (:data:`TERMINAL_BUSY`).
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

from rig.experiment.progress import TERMINAL_BUSY

HELP = ("keys: p pause · r resume · m note (Enter sends) · i induce now (then y) · "
        "e extend baseline 5 min · s stop (then y) · +/- S1 ±5 µA (then y beyond ±20 %) · ? help")
KEYMAP: dict[str, dict] = {
    "p": {"cmd": "pause"},
    "r": {"cmd": "resume"},
    "e": {"cmd": "extend_baseline", "data": {"seconds": 300.0}},
    "+": {"cmd": "intensity", "pathway": 0, "delta_uA": 5.0},
    "-": {"cmd": "intensity", "pathway": 0, "delta_uA": -5.0},
}
CONFIRMED: dict[str, tuple[dict, str]] = {  # irreversible: the key arms, "y" within 3 s confirms
    "i": ({"cmd": "induce_now"}, "induce now (end the baseline, start the induction)?"),
    "s": ({"cmd": "stop"}, "stop the run (outputs zeroed, the file is closed)?"),
}
CONFIRM_KEY = "y"
CONFIRM_S = 3.0
CONFIRM_FRACTION = 0.2  # an intensity this far from the baseline intensity needs the confirmation
NOTE_MAX = 200  # characters of a note typed at the prompt
_ESC, _ENTER, _BACKSPACE = "\x1b", ("\r", "\n"), ("\x7f", "\b")


class KeyReader:
    """Reads single keys from ``stream`` (a TTY) on a daemon thread until :meth:`close`.

    ``clock`` (seconds, monotonic) times the 3 s confirmation window (tests pass their own).
    """

    def __init__(self, commands: queue.Queue, stream: IO | None = None, echo: IO | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 refusal: Callable[[dict], str | None] | None = None,
                 intensity_of: Callable[[int], tuple[float | None, float | None]] | None = None) -> None:
        self.commands = commands
        self.refusal = refusal  # the controller's: why the wiring refuses a command (None: it does not)
        self.stream = stream if stream is not None else sys.stdin
        self.echo = echo if echo is not None else sys.stderr
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved: list | None = None
        self._armed: tuple[dict, float] | None = None  # (command, armed at)
        self.intensity_of = intensity_of  # pathway → (current µA, baseline µA)
        self.note: str | None = None  # the text typed so far while the note prompt is open

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

    def _show_note(self) -> None:
        try:
            self.echo.write(f"\r\x1b[2Knote: {self.note}")
            self.echo.flush()
        except (OSError, ValueError):
            pass

    def _send(self, cmd: dict) -> dict:
        cmd = {**cmd, "source": "terminal"}
        self.commands.put(cmd)  # a refused one too: the controller records it as refused, with the reason
        why = self.refusal(cmd) if self.refusal is not None else None
        if why:
            self._say(f"{cmd['cmd']} refused: {why}")
        else:
            self._say(f"{cmd['cmd']} sent" + (f": {cmd['text']}" if cmd.get("text") else ""))
        return cmd

    def _busy(self) -> None:
        if self.note is not None or self._armed is not None:
            TERMINAL_BUSY.set()
        else:
            TERMINAL_BUSY.clear()

    def key(self, ch: str) -> dict | None:
        """Handle one key; returns the command queued, or None (text, prompt, cancel, ignored)."""
        try:
            return self._key(ch)
        finally:
            self._busy()

    def _key(self, ch: str) -> dict | None:
        if self.note is not None:
            return self._note_key(ch)
        if self._armed is not None:
            armed, at = self._armed
            self._armed = None
            if ch == CONFIRM_KEY and self.clock() - at <= CONFIRM_S:
                return self._send(armed)
            why = "too late" if ch == CONFIRM_KEY else f"key {ch!r}"
            self._say(f"{armed['cmd']} cancelled ({why}; nothing sent)")
            return None
        if ch == "?":
            self._say(HELP)
        elif ch == "m":
            self.note = ""
            self._say("type the note, Enter to send it, Esc to cancel (keys are text here)")
            self._show_note()
        elif ch in CONFIRMED:
            self._arm(dict(CONFIRMED[ch][0]), CONFIRMED[ch][1])
        elif ch in KEYMAP:
            cmd = dict(KEYMAP[ch])
            far = self._far_from_baseline(cmd)
            if far:
                self._arm(cmd, far)
                return None
            return self._send(cmd)
        return None

    def _arm(self, cmd: dict, question: str) -> None:
        self._armed = (cmd, self.clock())
        self._say(f"{question} press {CONFIRM_KEY} within {CONFIRM_S:g} s to confirm; any other key cancels")

    def _far_from_baseline(self, cmd: dict) -> str:
        """The question to ask when an intensity command leaves ±20 % of the baseline intensity."""
        if cmd["cmd"] != "intensity" or self.intensity_of is None:
            return ""
        cur, base = self.intensity_of(cmd["pathway"])
        if cur is None or not base:
            return ""
        target = cur + cmd["delta_uA"]
        if abs(target - base) <= CONFIRM_FRACTION * base:
            return ""
        return (f"S{cmd['pathway'] + 1} to {target:.0f} µA is {(target - base) / base * 100:+.0f} % of the baseline "
                f"intensity ({base:.0f} µA)?")

    def _note_key(self, ch: str) -> dict | None:
        assert self.note is not None
        if ch in _ENTER:
            text, self.note = self.note.strip(), None
            if not text:
                self._say("empty note: nothing sent")
                return None
            return self._send({"cmd": "mark", "text": text})
        if ch == _ESC:
            self.note = None
            self._say("note cancelled (nothing sent)")
            return None
        if ch in _BACKSPACE:
            self.note = self.note[:-1]
        elif ch.isprintable() and len(self.note) < NOTE_MAX:
            self.note += ch
        self._show_note()
        return None

    def _loop(self, fd: int) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            if not data:
                return
            for ch in data.decode("utf-8", "ignore"):
                self.key(ch)

    def close(self) -> None:
        """Stop reading and restore the terminal (idempotent)."""
        self._stop.set()
        TERMINAL_BUSY.clear()
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
