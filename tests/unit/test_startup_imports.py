"""Start-up: each everyday command loads only what it needs (a correctness property of the import
graph, not a timing: the figures are in `rig bench --only startup`, startup_ms_*). `rig check`
validates a protocol without numpy or numba, `rig summary` reads a recording without numba, Qt or
scipy, `rig analyze` of an ABF file needs neither h5py, scipy nor the event vocabulary."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "matplotlib", "pynwb", "PySide6", "numba", "h5py", "pandas", "statsmodels", "dask")


def _loaded_after(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` are in sys.modules after ``rig ARGV`` in a fresh interpreter (exit 0)."""
    code = ("import sys\nfrom rig.cli import main\n"
            f"rc = main({argv!r})\n"
            f"print(sorted(m for m in {names!r} if sys.modules.get(m) is not None), rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    loaded, rc = r.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    assert rc == "0", r.stdout
    return ast.literal_eval(loaded)


def test_rig_check_does_not_import_heavy_libraries():
    assert _loaded_after(["check", "protocols/tbs_ltp.toml"], HEAVY) == []


def test_rig_check_does_not_import_numpy_nor_the_detector_kernel():
    names = ("numpy", "numba", "rig.detector.measurement", "rig.detector.kernel", "rig.detector.online")
    assert _loaded_after(["check", "protocols/tbs_ltp.toml"], names) == []


def test_rig_check_of_an_mea_protocol_does_not_import_numpy():
    assert _loaded_after(["check", "protocols/mea_tbs_ltp.toml"], ("numpy", "numba")) == []


def test_rig_summary_does_not_import_numba_qt_or_scipy():
    names = ("numba", "PySide6", "scipy", "matplotlib", "pydantic", "rig.detector.kernel")
    assert _loaded_after(["summary", "tests/fixtures/recording_format_1_3.h5"], names) == []


def test_rig_analyze_of_an_abf_file_does_not_import_h5py_scipy_or_the_event_vocabulary(tmp_path):
    from rig.bench.startup import write_abf240

    abf = write_abf240(tmp_path / "s.abf", n_sweeps=20)
    names = ("h5py", "scipy", "PySide6", "matplotlib", "pydantic", "rig.core.events", "rig.storage")
    assert _loaded_after(["analyze", str(abf), "--json"], names) == []


def test_rig_help_still_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0
    for name in ("run", "check", "summary", "analyze", "bench", "power", "validate-sim"):
        assert name in r.stdout
