"""Shared helpers for the storage/crash/recover/export tests: a short protocol and its recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rig.experiment.runner import RunOptions, run_experiment
from tests.crash_campaign import SHORT_PROTOCOL

SEED = 11


def short_protocol(d: Path) -> Path:
    """Two pathways, 1 min baseline at 1 s, 2 TBS trains of 5 bursts, 1 min follow-up (~2.3 min)."""
    p = d / "short.toml"
    p.write_text(SHORT_PROTOCOL)
    return p


def record(d: Path, name: str = "rec.h5", seed: int = SEED, **kw) -> Path:
    """A complete in-process recording of the short protocol, as fast as possible."""
    out = d / name
    run_experiment(RunOptions(protocol=short_protocol(d), out=out, seed=seed, speed=None, **kw))
    return out


def rows_equal(a: np.ndarray, b: np.ndarray, skip: tuple[str, ...] = ("wall_time",)) -> bool:
    names = [n for n in a.dtype.names if n not in skip]
    def same(x: np.ndarray, y: np.ndarray) -> bool:  # NaN (no telegraph / monitor) equals NaN
        return np.array_equal(x, y, equal_nan=x.dtype.kind == "f")

    return a.shape == b.shape and all(same(a[n], b[n]) for n in names)
