"""``load_numba(cache_only=True)`` (``rig analyze``): cached kernels load without numba's lowering
registries, a cache miss still compiles (registries loaded then, scipy still hidden), and a full
``load_numba()`` afterwards loads them. Each case in a fresh interpreter (numba's state is global)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES = ("numba.np.linalg", "numba.np.arraymath", "numba.typed.typeddict", "numba.np.random.generator_core")

_MEASURE = f"""
import sys
import numpy as np
from rig.core.jit import load_numba
load_numba(cache_only=True)
import rig.detector as D
fs = 20000.0
t = np.arange(2000) / fs * 1000.0 - 20.0
x = np.where(t > 2.5, -0.5 * np.sin(np.clip(t - 2.5, 0, 10) / 10 * np.pi), 0.0) + 0.01 * np.sin(np.arange(2000) * 0.7)
r = D.measure_pulses(x, np.array([400, 800], dtype=np.int64), fs, D.DEFAULT_WINDOWS, 5.0)
print(r.tobytes().hex())
print(sorted(m for m in {REGISTRIES!r} + ("scipy",) if sys.modules.get(m) is not None))
"""


def _run(code: str, env_cache: Path | None = None) -> list[str]:
    env = None if env_cache is None else {**os.environ, "NUMBA_CACHE_DIR": str(env_cache)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()


def test_cache_miss_compiles_then_cache_hit_loads_without_registries(tmp_path):
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    compiled, mods_compiled = _run(_MEASURE, cache)  # empty cache: the kernels compile (registries load)
    assert mods_compiled == repr(sorted(REGISTRIES))  # (scipy stays hidden while they do)
    loaded, mods_loaded = _run(_MEASURE, cache)  # the same kernels from the cache
    assert loaded == compiled
    assert mods_loaded == "[]"


def test_full_load_after_cache_only_loads_registries_and_compiles():
    code = f"""
import sys
from rig.core.jit import load_numba
load_numba(cache_only=True)
load_numba()
print(sorted(m for m in {REGISTRIES!r} if sys.modules.get(m) is not None))
from numba import njit
import numpy as np
print(njit(lambda a: np.sum(a * 2.0))(np.arange(4.0)))
"""
    mods, value = _run(code)
    assert mods == repr(sorted(REGISTRIES))
    assert value == "12.0"
