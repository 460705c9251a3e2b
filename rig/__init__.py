"""LTP Rig: acquisition, stimulation and online fEPSP analysis for LTP/LTD experiments."""

import os as _os

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
