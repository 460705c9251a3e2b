"""Regressions of issue 17's Low items: SIGTERM early in a command exited 143 with no message; keys
written in quotes got no line number; `rig check` of a 100-day protocol took minutes (every test
pulse listed); with a read-only install and an unwritable HOME numba's cache made every run fail;
a dangling-symlink `--out` exited 1; `rig ctl intensity S1 -1e3` was taken for an option."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.core import plan as core_plan
from rig.protocol.plan_summary import plan_summary
from tests.hostile_run import ROOT

PY = sys.executable


def _rig(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "rig.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _caught(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_during_start_up_is_one_line_and_exit_130(tmp_path):
    """The signal comes while the command still imports its modules (before the run's own handlers)."""
    out = tmp_path / "r.h5"
    p = subprocess.Popen([PY, "-m", "rig.cli", "run", str(ROOT / "protocols" / "baseline_only.toml"), "--sim",
                          "--speed", "max", "--no-gui", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _caught(p.pid) & (1 << (signal.SIGINT - 1)):  # the interpreter is up
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.002)
        wait_until = time.monotonic() + 0.5  # the rig's handler, installed first thing (none before the fix)
        while not _caught(p.pid) & (1 << (signal.SIGTERM - 1)) and time.monotonic() < wait_until:
            time.sleep(0.002)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err and len(err.strip().splitlines()) <= 2


def test_quoted_keys_get_their_line_number(tmp_path):
    proto = tmp_path / "q.toml"
    proto.write_text('["experiment"]\n"name" = "q"\n[[phases]]\n"kind" = "baseline"\n"duration_min" = -5\n'
                     "'interval_s' = 0.1\n")
    r = _rig("check", str(proto))
    assert r.returncode == 2
    assert f"{proto}:5: phases[0].duration_min" in r.stderr and f"{proto}:6: phases[0].interval_s" in r.stderr


def test_checking_a_100_day_protocol_never_lists_its_test_pulses(tmp_path, monkeypatch):
    from rig.commands.check import check

    proto = tmp_path / "long.toml"
    proto.write_text('[experiment]\nname = "100 days"\n' + "".join(
        '[[phases]]\nkind = "follow_up"\nduration_min = 1440\ninterval_s = 0.5\n' for _ in range(100)))

    def listed(*a, **kw):
        raise AssertionError("pulse_times listed millions of test pulses")

    monkeypatch.setattr(core_plan.TestSchedule, "pulse_times", listed)
    plan, rig, failures = check(proto, None)
    assert not failures
    s = plan_summary(plan, rig)
    assert s["duration_s"] == 100 * 86400 and s["total_pulses"] == 100 * 172800


def test_closed_form_test_pulse_counts_match_the_listed_pulses():
    for interval, pws, first in ((7, (0, 1), 3), (5, (1,), 0), (3, (0, 1, 2), 4)):
        t = core_plan.TestSchedule(interval, pws, first)
        for b, e in ((0, 100), (10, 11), (-5, 40), (50, 20)):
            listed = t.pulse_times(b, e)
            assert t.count(b, e) == len(listed)
            for pw, (n, a, z) in t.per_pathway(b, e).items():
                mine = [s for s, q in listed if q == pw]
                assert (n, a, z) == (len(mine), min(mine), max(mine))


@pytest.fixture
def read_only_install(tmp_path):
    """This checkout copied to a read-only tmpfs (root only), as a system-wide install."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("mount not permitted here")
    try:
        for name in ("rig", "drivers", "protocols"):
            shutil.copytree(ROOT / name, d / name, ignore=shutil.ignore_patterns("__pycache__"))
        if subprocess.run(["mount", "-o", "remount,ro", str(d)], capture_output=True).returncode:
            pytest.skip("remount read-only not permitted here")
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_unwritable_home_and_install_fall_back_to_a_temporary_numba_cache(tmp_path, read_only_install):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(HOME="/proc", PYTHONPATH=str(read_only_install))
    out = tmp_path / "r.h5"
    r = subprocess.run([PY, "-m", "rig.cli", "run", str(read_only_install / "protocols" / "baseline_only.toml"),
                        "--sim", "--speed", "max", "--no-gui", "--out", str(out)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "no locator available" not in r.stderr and out.exists()


def test_dangling_symlink_out_is_refused_exit_2(tmp_path):
    out = tmp_path / "r.h5"
    out.symlink_to(tmp_path / "missing" / "target.h5")
    r = _rig("run", str(ROOT / "protocols" / "baseline_only.toml"), "--sim", "--speed", "max", "--no-gui",
             "--out", str(out))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "symbolic link" in r.stderr and str(out) in r.stderr and out.is_symlink()


def test_out_inside_a_file_is_a_path_error_exit_2(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    r = _rig("run", str(ROOT / "protocols" / "baseline_only.toml"), "--sim", "--no-gui", "--out", str(f / "r.h5"))
    assert r.returncode == 2 and "is not a directory" in r.stderr and "sweeps kept" not in r.stderr


def test_negative_delta_with_an_exponent_is_an_argument(tmp_path):
    r = _rig("ctl", "intensity", "S1", "-1e1", "--endpoint", str(tmp_path / "none.ctl.json"))
    assert r.returncode == 2 and "unrecognized arguments" not in r.stderr and "endpoint" in r.stderr


def test_a_signal_after_the_run_ended_does_not_change_its_outcome():
    """`rig run` reports a finished run inside LateSignals: SIGTERM/SIGINT there are noted, not raised
    (they gave 143 or -2 for a complete file)."""
    from rig.commands.run import LateSignals

    before = signal.getsignal(signal.SIGTERM)
    with LateSignals():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) == before


def _start_rig(tmp_path: Path) -> subprocess.Popen:
    out = tmp_path / "r.h5"
    return subprocess.Popen([str(Path(PY).with_name("rig")) if Path(PY).with_name("rig").exists() else PY,
                             *([] if Path(PY).with_name("rig").exists() else ["-m", "rig.cli"]),
                             "run", str(ROOT / "protocols" / "baseline_only.toml"), "--sim", "--speed", "max",
                             "--no-gui", "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.1])
def test_signal_while_rig_still_imports_is_one_line_and_exit_130(tmp_path, sig, delay_s):
    """Before the fix the handler came only in main(), after argparse and the command's imports:
    SIGTERM there exited 143 with no message, SIGINT printed an import traceback. rig/__init__ now
    installs a start-up handler first thing, before any heavy import (only Python's own start-up,
    site and runpy, comes before it)."""
    p = _start_rig(tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not _caught(p.pid) & (1 << (signal.SIGTERM - 1)):  # rig's first handler is in place
            assert time.monotonic() < deadline and p.poll() is None
            time.sleep(0.001)
        time.sleep(delay_s)
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err and len(err.strip().splitlines()) <= 2, err


def test_a_signal_after_the_command_returned_keeps_its_exit_code(tmp_path):
    """After main() returned (the outcome is decided, the file closed) a SIGTERM or SIGINT of the
    `rig` process is ignored: it gave 143 or -2 though the command had finished."""
    code = ("import os, signal, sys, time\n"
            "sys.argv = ['rig', 'check', sys.argv[1]]\n"
            "from rig.cli import main\n"
            "rc = main()\n"
            "os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGINT); time.sleep(0.05)\n"
            "sys.exit(rc)\n")
    r = subprocess.run([PY, "-c", code, str(ROOT / "protocols" / "baseline_only.toml")], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def test_importing_rig_as_a_library_leaves_signal_handlers_alone():
    code = ("import signal, rig\n"
            "assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL\n"
            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n")
    r = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
