"""Loading numba once, before the clock starts, without the scipy it does not need here.

``import numba`` imports scipy only to check its version, and numba's first compile or cache
load (its lowering registries) imports ``scipy.linalg`` only to find a BLAS for jitted ``np.dot``
/ ``np.correlate`` — about a third of ``rig analyze``'s start-up and a tenth of a ``--speed max``
run. No jitted function of this project uses linear algebra (``rig.detector.kernel``,
``drivers.sim``): :func:`load_numba` loads numba and its registries with scipy hidden (when
scipy is not imported yet), so its results are the same.

It is called where numba's loading would otherwise happen later: at the start of ``rig
analyze``, and by the engine before the device's clock starts (a paced run must never load a
module or a compiled kernel inside its loop: the device's buffer would overflow while it does).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_loaded = False


@contextmanager
def scipy_hidden() -> Iterator[None]:
    """``import scipy`` raises ImportError inside (when scipy is not imported yet)."""
    hidden = [m for m in ("scipy", "scipy.linalg") if m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        yield
    finally:
        for m in hidden:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]


def load_numba() -> None:
    """Import numba and load its CPU target's registries (once per process, thread-safe)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        with scipy_hidden():  # (numba may be imported already: its registries load at its first use)
            from numba.core.registry import cpu_target

            cpu_target.target_context.refresh()
        _loaded = True
