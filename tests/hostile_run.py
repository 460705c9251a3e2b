"""A real `rig run` in a subprocess (simulated slice, paced), for the hostile-input regressions:
start it, wait for its control endpoint, attack it, wait for the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import baseline_toml

ROOT = Path(__file__).resolve().parent.parent


class LiveRun:
    """``rig run`` of a baseline protocol (``minutes`` at ``interval_s``) at ``speed``× real time."""

    def __init__(self, tmp: Path, minutes: float = 2.0, interval_s: float = 5.0, speed: float = 10.0,
                 extra_toml: str = "", name: str = "live.h5") -> None:
        self.proto = tmp / "live.toml"
        self.proto.write_text(baseline_toml(minutes, interval_s) + extra_toml)
        self.out = tmp / name
        self.endpoint = tmp / (name + ".ctl.json")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rig.cli", "run", str(self.proto), "--no-gui", "--speed", str(speed),
             "--seed", "3", "--out", str(self.out), "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_endpoint(self, timeout_s: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.endpoint.exists():
                try:
                    return json.loads(self.endpoint.read_text())
                except ValueError:
                    pass
            if self.proc.poll() is not None:
                raise AssertionError(f"run ended before its endpoint appeared: {self.proc.stderr.read()}")
            time.sleep(0.05)
        raise AssertionError("no control endpoint")

    def finish(self, timeout_s: float = 300.0) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout_s)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
