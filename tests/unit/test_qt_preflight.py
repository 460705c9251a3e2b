"""The window pre-flight: the table of libraries matches what Qt's xcb plugin links against."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rig.experiment.qt_preflight import XCB_LIBS, missing_libraries, uses_xcb, window_problem


def _plugin() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_every_xcb_library_the_plugin_needs_is_checked():
    lib = _plugin()
    if not lib.exists():
        pytest.skip("no xcb plugin in this PySide6 build")
    out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=True).stdout
    needed = {line.split()[0] for line in out.splitlines() if "=>" in line}
    system = {n for n in needed if n.startswith(("libxcb", "libX11-xcb", "libxkbcommon"))}
    assert system and system <= set(XCB_LIBS), sorted(system - set(XCB_LIBS))


def test_a_missing_library_is_named_with_its_package():
    libs = {"libc.so.6": "libc6", "libxcb-rig-missing.so.9": "libxcb-rig-missing9"}
    assert missing_libraries(libs) == {"libxcb-rig-missing.so.9": "libxcb-rig-missing9"}
    msg = window_problem(libs, environ={}, platform="linux")
    assert msg is not None and "libxcb-rig-missing.so.9" in msg and "libc.so.6" not in msg
    assert "sudo apt-get install libxcb-rig-missing9" in msg


def test_only_the_xcb_platform_is_checked():
    assert uses_xcb({}, "linux") and uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({}, "darwin")
    assert window_problem({"libxcb-rig-missing.so.9": "x"}, environ={"QT_QPA_PLATFORM": "offscreen"},
                          platform="linux") is None
