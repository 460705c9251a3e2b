"""Can the window open? Checked *before* Qt is asked to (a missing xcb library makes Qt abort
the whole process, exit 134, taking the recording with it).

On Linux/X11 Qt's ``xcb`` platform plugin (PySide6 ``Qt/plugins/platforms/libqxcb.so``) needs the
system libraries in :data:`XCB_LIBS` (checked with ``ldd`` on the plugin; the table is kept in
step with it by ``tests/unit/test_qt_preflight.py``). :func:`window_problem` tries to load each
one and names the Debian/Ubuntu packages of those that are missing.
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname → Debian/Ubuntu package (the same names on Ubuntu 22.04/24.04 and Debian 12)
XCB_LIBS: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
}


def uses_xcb(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """True when Qt will pick its xcb plugin: Linux, and ``QT_QPA_PLATFORM`` unset or ``xcb``
    (Qt 6 on Linux starts with xcb unless told otherwise)."""
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    if not plat.startswith("linux"):
        return False
    qpa = env.get("QT_QPA_PLATFORM", "")
    return qpa == "" or qpa.split(":")[0].split(";")[0] == "xcb"


def missing_libraries(libs: dict[str, str] | None = None) -> dict[str, str]:
    """The sonames of ``libs`` (default :data:`XCB_LIBS`) the dynamic loader cannot load → package."""
    out: dict[str, str] = {}
    for soname, package in (XCB_LIBS if libs is None else libs).items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            out[soname] = package
    return out


def window_problem(libs: dict[str, str] | None = None, environ: dict[str, str] | None = None,
                   platform: str | None = None) -> str | None:
    """None when the window can open, else one line naming the missing libraries and the
    command that installs their packages."""
    if not uses_xcb(environ, platform):
        return None
    missing = missing_libraries(libs)
    if not missing:
        return None
    return (f"the window cannot open: missing system libraries {', '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt-get install {' '.join(sorted(set(missing.values())))})")
