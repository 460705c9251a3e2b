"""Regressions of the window at start-up (issue 16): on a desktop missing two xcb libraries Qt
aborted the process (exit 134) and the recording was lost. Failed on the code before the fix."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from rig.storage import open_recording
from tests.conftest import ROOT, baseline_toml

CHILD = textwrap.dedent("""
    import sys
    import rig.experiment.qt_preflight as pf
    pf.XCB_LIBS = {**pf.XCB_LIBS, "libxcb-rig-missing.so.9": "libxcb-rig-missing9"}  # a library not installed
    from rig.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_a_missing_xcb_library_runs_headless_and_names_the_package(tmp_path):
    proto = tmp_path / "b.toml"
    proto.write_text(baseline_toml(1.0, 10.0))
    out = tmp_path / "r.h5"
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":97"  # a display is announced: without the check Qt would be asked to open it
    p = subprocess.run([sys.executable, "-c", CHILD, "run", str(proto), "--sim", "--speed", "max",
                        "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "libxcb-rig-missing.so.9" in p.stderr and "sudo apt-get install " in p.stderr
    assert "libxcb-rig-missing9" in p.stderr.split("sudo apt-get install ")[1].split(")")[0]
    assert "running headless" in p.stderr
    with open_recording(out) as rec:
        assert rec.complete and rec.n_sweeps == 6
