"""Regressions of issue 17 on protocol and rig files: a command voltage beyond the AO range passed
`rig check` (the run armed and failed); `windows = {slope = 3.0}` was an internal error and
`slope = [1, 1e308]` passed and then overflowed in the run; wrong types were silently coerced
(`bursts = true` → 1 burst, `intensity_uA = [true]` → 1 µA, `biphasic = "yes"`, numeric strings).
Each is now one line per problem naming file, line, field and what is allowed; exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rig.detector.measurement import Windows
from rig.protocol.rigfile import default_rig_text
from tests.conftest import baseline_toml, tbs_toml
from tests.hostile_run import ROOT
from tests.storage_helpers import record


def _rig(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _refused(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert all(w in r.stderr for w in words), r.stderr


# -- the AO command voltage --------------------------------------------------------------------
def test_rig_check_refuses_a_command_voltage_beyond_the_ao_range(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(default_rig_text().replace("uA_per_V = 100.0          # isolator: 100 µA per volt of command",
                                              "uA_per_V = 1.0"))
    proto = tmp_path / "p.toml"
    proto.write_text(tbs_toml())
    r = _rig("check", str(proto), "--rig", str(rig))
    _refused(r, f"{proto}:", "stimulation.intensity_uA[0]", "100 µA needs a 100 V command", "AO range ±10 V",
             "allowed up to 10 µA")


def test_ao_range_of_the_rig_file_bounds_io_curve_and_induction(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(default_rig_text().replace("uA_per_V = 100.0          # isolator: 100 µA per volt of command",
                                              "uA_per_V = 100.0\nao_range_V = 1.2"))
    proto = tmp_path / "p.toml"
    proto.write_text(baseline_toml(1.0, 5.0) + """
[[phases]]
kind = "induction"
pattern = "hfs"
pathway = "S1"
intensity_uA = 150.0
pulses = 10
frequency_hz = 100.0
trains = 1

[[phases]]
kind = "io_curve"
intensities_uA = [50.0, 100.0, 130.0]
""")
    r = _rig("check", str(proto), "--rig", str(rig))
    _refused(r, "phases[1].intensity_uA: 150 µA needs a 1.5 V command", "phases[2].intensities_uA[2]: 130 µA",
             "allowed up to 120 µA")
    assert "stimulation.intensity_uA" not in r.stderr  # 100 µA fits 1.2 V


# -- measurement windows -----------------------------------------------------------------------
@pytest.mark.parametrize("windows, words", [
    ("{slope = 3.0}", ("window slope: need [start, end] in ms, got 3.0",)),
    ("{slope = [1, 1e308]}", ("outside ±10000 ms",)),
    ("{slope = [4.0, 3.0]}", ("need finite start < end",)),
    ("{slope = [1.0, 150.0]}", ("analysis.windows.slope", "outside the sweep: allowed [-20, 80] ms")),
    ("{baseline = [-50.0, -1.0]}", ("analysis.windows.baseline", "outside the sweep")),
    ("{slope = [1.0, 2.0, 3.0]}", ("analysis.windows.slope",)),
    ("{max_slope_width_ms = 1e300}", ("max_slope_width_ms",)),
])
def test_protocol_windows_are_pairs_finite_ordered_inside_the_sweep(tmp_path, windows, words):
    proto = tmp_path / "p.toml"
    proto.write_text(baseline_toml(1.0, 5.0) + f"\n[analysis]\nwindows = {windows}\n")
    r = _rig("check", str(proto))
    _refused(r, f"{proto}:", *words)
    assert len(r.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize("spec", ["slope=1:1e308", "slope=1:150", "slope=nan:4", "peak=-30:5"])
def test_run_window_is_refused_before_anything_is_armed(tmp_path, spec):
    proto = tmp_path / "p.toml"
    proto.write_text(baseline_toml(0.5, 5.0))
    out = tmp_path / "r.h5"
    r = _rig("run", str(proto), "--sim", "--speed", "max", "--no-gui", "--out", str(out), "--window", spec)
    _refused(r, "--window")
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_analyze_window_overflow_is_one_line(tmp_path):
    rec = record(tmp_path)
    r = _rig("analyze", str(rec), "--window", "slope=1:1e308")
    _refused(r, "--window", "outside ±10000 ms")


@pytest.mark.parametrize("change", [(1.0, 1e308), (float("nan"), 4.0), (1.0, float("inf"))])
def test_a_window_change_that_would_overflow_is_refused(change):
    """`rig ctl set_windows` reaches the engine as Windows.replace: refused there (the run goes on)."""
    with pytest.raises(ValueError, match="window slope"):
        Windows().replace(slope=change)


# -- strict types ------------------------------------------------------------------------------
def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize("old, new, words", [
    ("bursts = 10", "bursts = true", ("phases[1].bursts", "valid integer")),
    ("bursts = 10", "bursts = 2.5", ("phases[1].bursts", "valid integer")),
    ("bursts = 10", "bursts = 10.0", ("phases[1].bursts", "valid integer")),
    ("intensity_uA = [100.0]", "intensity_uA = [true]", ("stimulation.intensity_uA[0]", "valid number")),
    ("intensity_uA = [100.0]", 'intensity_uA = ["150"]', ("stimulation.intensity_uA[0]", "valid number")),
    ("width_us = 100.0", 'width_us = "100"', ("stimulation.width_us", "valid number")),
    ("width_us = 100.0", "width_us = 100.0\nbiphasic = \"yes\"", ("stimulation.biphasic", "valid boolean")),
    ('duration_min = 2.0', 'duration_min = "2"', ("phases[0].duration_min", "valid number")),
])
def test_wrong_types_are_errors_not_coerced(tmp_path, old, new, words):
    proto = tmp_path / "p.toml"
    proto.write_text(_with(tbs_toml(), old, new))
    r = _rig("check", str(proto))
    _refused(r, f"{proto}:", *words)


def test_toml_integers_are_still_valid_floats(tmp_path):
    proto = tmp_path / "p.toml"
    proto.write_text(_with(_with(tbs_toml(), "width_us = 100.0", "width_us = 100"), "intensity_uA = [100.0]",
                           "intensity_uA = [100]"))
    assert _rig("check", str(proto)).returncode == 0


def test_rig_file_types_are_strict(tmp_path):
    rig = tmp_path / "rig.toml"
    rig.write_text(_with(default_rig_text(), "sample_rate_hz = 20000.0", 'sample_rate_hz = "20000"'))
    proto = tmp_path / "p.toml"
    proto.write_text(tbs_toml())
    _refused(_rig("check", str(proto), "--rig", str(rig)), f"{rig}:", "sample_rate_hz", "valid number")
