"""Start-up: `rig check` loads only what validating a protocol needs (a correctness property of
the import graph, not a timing: the figures are in `rig bench`, startup_ms_*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "matplotlib", "pynwb", "PySide6", "numba", "h5py", "pandas", "statsmodels", "dask")


def test_rig_check_does_not_import_heavy_libraries():
    code = ("import sys\nfrom rig.cli import main\nrc = main(['check', 'protocols/tbs_ltp.toml'])\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[] 0", r.stdout


def test_rig_help_still_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0
    for name in ("run", "check", "summary", "analyze", "bench", "power", "validate-sim"):
        assert name in r.stdout
