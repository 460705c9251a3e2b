"""Start-up: each everyday command loads only what it needs (a correctness property of the import
graph, not a timing: the figures are in `rig bench`, startup_ms_*). Each runs in a fresh
interpreter, as a user types it, and reports which of the heavy libraries ended up in sys.modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "recording_format_1_1.h5"
HEAVY = ("scipy", "matplotlib", "pynwb", "PySide6", "PyQt6", "pyqtgraph", "numba", "h5py", "pandas",
         "statsmodels", "dask", "numpy", "pydantic", "pyabf")

# what each command must never load (everything else of HEAVY it may)
MUST_NOT = {
    "check": ("scipy", "matplotlib", "pynwb", "PySide6", "PyQt6", "pyqtgraph", "numba", "h5py", "pandas",
              "statsmodels", "dask", "numpy", "pyabf"),
    "summary": ("scipy", "matplotlib", "pynwb", "PySide6", "PyQt6", "pyqtgraph", "numba", "pandas",
                "statsmodels", "dask", "pydantic", "pyabf"),
    "analyze_abf": ("scipy", "matplotlib", "pynwb", "PySide6", "PyQt6", "pyqtgraph", "h5py", "pandas",
                    "statsmodels", "dask", "pydantic"),
    "analyze_h5": ("scipy", "matplotlib", "pynwb", "PySide6", "PyQt6", "pyqtgraph", "pandas", "statsmodels",
                   "dask", "pydantic", "pyabf"),
}


def _loaded(argv: list[str]) -> tuple[int, list[str]]:
    code = ("import sys, io, contextlib\nfrom rig.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): rc = main({argv!r})\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), rc)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    mods, rc = r.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    return int(rc), eval(mods)  # noqa: S307 - our own printed list


@pytest.fixture(scope="module")
def abf240(tmp_path_factory) -> Path:
    import pyabf.abfWriter

    from rig.bench.fepsp_synth import Synth

    sweeps = np.stack([Synth(fs_hz=10000.0, amplitude_mV=-0.4, noise_uV=20.0, seed=i, pre_ms=30.0,
                             post_ms=70.0).trace() for i in range(240)])
    path = tmp_path_factory.mktemp("abf") / "sweeps240.abf"
    pyabf.abfWriter.writeABF1(sweeps, str(path), 10000.0, units="mV")
    return path


def test_rig_check_loads_neither_numpy_nor_h5py_nor_numba():
    rc, mods = _loaded(["check", "protocols/tbs_ltp.toml"])
    assert rc == 0 and not set(mods) & set(MUST_NOT["check"]), mods
    assert "pydantic" in mods  # the protocol language is validated


def test_rig_summary_loads_no_numba_scipy_qt_or_pydantic():
    rc, mods = _loaded(["summary", str(FIXTURE)])
    assert rc == 0 and not set(mods) & set(MUST_NOT["summary"]), mods


def test_rig_analyze_of_an_abf_loads_numba_without_scipy(abf240):
    rc, mods = _loaded(["analyze", str(abf240), "--json"])
    assert rc == 0 and not set(mods) & set(MUST_NOT["analyze_abf"]), mods
    assert "numba" in mods and "pyabf" in mods  # measured by the one jitted detector


def test_rig_analyze_of_a_recording_loads_no_scipy_qt_or_pyabf():
    rc, mods = _loaded(["analyze", str(FIXTURE), "--json"])
    assert rc in (0, 1) and not set(mods) & set(MUST_NOT["analyze_h5"]), mods


def test_scipy_still_imports_after_the_kernel_hid_it():
    code = ("import sys\nimport rig.detector.kernel\nassert 'scipy' not in sys.modules\n"
            "import scipy.linalg, scipy.stats\nprint(scipy.stats.ttest_ind([1, 2, 3], [4, 5, 7]).pvalue < 0.1)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr


def test_rig_help_still_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0
    for name in ("run", "check", "summary", "analyze", "bench", "power", "validate-sim", "selftest"):
        assert name in r.stdout
