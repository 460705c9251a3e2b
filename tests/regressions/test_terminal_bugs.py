"""Regressions of the headless terminal (issue 16), each run in a real pseudo-terminal: the
progress bar never appeared (the terminal check was always false) and typing a note sent
commands (``m`` did not ask for text: the ``i`` of the note was induce-now). Each test failed on
the code before the fix."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time

from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml


class PtyRun:
    """``python -m rig.cli ARGS`` on the slave side of a new pseudo-terminal (stdin, stdout and
    stderr are the terminal, as in tmux)."""

    def __init__(self, args: list[str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # child
            os.chdir(ROOT)
            os.execv(sys.executable, [sys.executable, "-m", "rig.cli", *args])
        self.pid, self.fd, self.out = pid, fd, b""

    def read_until(self, needle: bytes, timeout_s: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout_s  # a bound for a hung child only, never a measurement
        while needle not in self.out and time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    return needle in self.out
                if not chunk:
                    break
                self.out += chunk
        return needle in self.out

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout_s: float = 120.0) -> int:
        self.read_until(b"\x00never\x00", timeout_s)  # drain until the child closes the terminal
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)
        raise AssertionError(f"child did not exit; output:\n{self.out.decode(errors='replace')}")


def test_the_progress_bar_appears_in_a_real_terminal(tmp_path):
    proto = tmp_path / "t.toml"
    proto.write_text(tbs_toml(2.0, 2.0))
    out = tmp_path / "bar.h5"
    run = PtyRun(["run", str(proto), "--sim", "--speed", "max", "--no-gui", "--out", str(out)])
    code = run.wait()
    text = run.out.decode(errors="replace")
    assert code == 0, text
    assert re.search(r"\r\[#{20,30}\.*\] +\d+\.\d%", text), text  # bars redrawn in place
    assert "[" + "#" * 30 + "] 100.0%" in text, text  # the final bar
    assert "sweeps" in text and "real time" in text


def test_typing_a_note_never_sends_induce_now(tmp_path):
    proto = tmp_path / "t.toml"
    proto.write_text(tbs_toml(20.0, 10.0))  # 20 min of baseline: ≥ 60 s at --speed 20
    out = tmp_path / "note.h5"
    run = PtyRun(["run", str(proto), "--sim", "--speed", "20", "--no-gui", "--out", str(out)])
    assert run.read_until(b"keys:"), run.out.decode(errors="replace")
    run.type("m")
    assert run.read_until(b"type the note")
    run.type("slice moved? ie\r")  # an i and two e's: text, not induce-now / extend-baseline
    assert run.read_until(b"mark sent: slice moved? ie")
    run.type("s")
    assert run.read_until(b"within 3 s to confirm")
    run.type("y")
    code = run.wait()
    assert code == 130, run.out.decode(errors="replace")
    with open_recording(out) as rec:
        ops = [e for e in rec.events if e["kind"] == "operator"]
        texts = [e["text"] for e in ops]
        phases = [p["kind"] for p in rec.phases]
    assert len(ops) == 2, texts
    assert texts[0].startswith("mark from terminal: slice moved? ie")
    assert texts[1].startswith("stop from terminal")
    assert "induction" not in phases
