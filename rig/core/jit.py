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

``load_numba(cache_only=True)`` (``rig analyze``) goes further: numba's lowering registries
(≈ 60 modules, ≈ 0.1 s) are what *compiling* needs; a kernel loaded from the on-disk cache is
machine code and needs only numba's runtime. So the registries load at the first compile (a cache
miss, or :func:`load_numba` without ``cache_only``), still with scipy hidden, and a cache load
before it initialises the runtime alone. The kernels and their results are the same.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_loaded = 0  # 0: not yet, 1: numba and its runtime (cache_only), 2: and its registries


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


def load_numba(cache_only: bool = False) -> None:
    """Import numba and load its CPU target's registries (once per process, thread-safe);
    ``cache_only``: the registries wait for the first compile (see the module's docstring)."""
    global _loaded
    want = 1 if cache_only else 2
    if _loaded >= want:
        return
    with _lock:
        if _loaded >= want:
            return
        with scipy_hidden():  # (numba may be imported already: its registries load at its first use)
            from numba.core.registry import cpu_target

            ctx = cpu_target.target_context
            if cache_only:
                _defer_registries(ctx)
            else:
                ctx.__dict__.pop("refresh", None)  # undo _defer_registries
                ctx.refresh()
        _loaded = want


def _defer_registries(ctx) -> None:
    """Until a compile, ``ctx.refresh()`` called by numba's cache load initialises only the runtime
    (all a cached kernel needs); any other call (the compiler's) loads the registries, as numba does."""
    try:
        from numba.core.caching import Cache
        from numba.core.runtime import rtsys

        cache_load = Cache.load_overload.__code__
    except (ImportError, AttributeError):  # another numba (pinned in pyproject.toml): load as usual
        ctx.refresh()
        return

    def refresh() -> None:
        if sys._getframe(1).f_code is cache_load:
            rtsys.initialize(ctx)
            return
        ctx.__dict__.pop("refresh", None)  # numba's own refresh from now on
        with scipy_hidden():
            ctx.refresh()

    ctx.refresh = refresh
