"""LTP Rig: acquisition, stimulation and online fEPSP analysis for LTP/LTD experiments."""

import os as _os
import signal as _signal
import sys as _sys


def _start_up_signal(signum: int, frame: object) -> None:
    """SIGTERM/SIGINT while the `rig` command is still importing (before :func:`rig.cli.main` takes
    over): nothing was done yet, so one line and exit 130, not 143 and no message."""
    _os.write(2, f"rig: interrupted by {_signal.Signals(signum).name} during start-up: nothing was done\n".encode())
    _os._exit(130)


def _is_rig_command() -> bool:
    """This process is the `rig` command (console script or ``python -m rig.cli``), not a library user."""
    argv0 = _os.path.basename(_sys.argv[0]) if _sys.argv else ""
    return argv0 in ("rig", "rig.exe") or "rig.cli" in getattr(_sys, "orig_argv", [])[:4]


if _is_rig_command() and _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:
    _signal.signal(_signal.SIGTERM, _start_up_signal)  # first thing: before any heavy import
    _signal.signal(_signal.SIGINT, _start_up_signal)

__version__ = "0.1.0"


def _numba_cache_fallback() -> None:
    """numba caches compiled kernels next to their source or under HOME and refuses to import
    when it can write neither (a read-only install with an unwritable HOME): then it caches in a
    temporary folder. Must run before numba is imported."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    given = _os.environ.get("NUMBA_CACHE_DIR")
    src_dirs = [_os.path.join(here, "detector"), _os.path.join(_os.path.dirname(here), "drivers", "sim")]
    if given and _os.access(given, _os.W_OK):
        return
    if not given and all(_os.access(d, _os.W_OK) for d in src_dirs if _os.path.isdir(d)):
        return
    import tempfile as _tempfile  # only here: `import rig` stays light

    uid = _os.getuid() if hasattr(_os, "getuid") else 0
    fallback = _os.path.join(_tempfile.gettempdir(), f"ltp-rig-numba-cache-{uid}")
    try:
        _os.makedirs(fallback, exist_ok=True)
    except OSError:
        return
    _os.environ["NUMBA_CACHE_DIR"] = fallback


_numba_cache_fallback()
