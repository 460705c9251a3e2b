"""Shared fixtures: short protocols written to tmp_path, and paths of the shipped ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "protocols"

def baseline_toml(minutes: float, interval_s: float, *, name: str = "baseline test",
                  pathways: tuple[str, ...] = ("S1",), intensity_uA: float = 100.0) -> str:
    """A protocol of test pulses only (one baseline phase)."""
    paths = ", ".join(f'"{p}"' for p in pathways)
    uA = ", ".join(repr(float(intensity_uA)) for _ in pathways)
    return f"""
[experiment]
name = "{name}"

[stimulation]
pathways = [{paths}]
intensity_uA = [{uA}]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = {minutes!r}
interval_s = {interval_s!r}
"""


def tbs_toml(base_min: float = 2.0, follow_min: float = 3.0, interval_s: float = 10.0, *, trains: int = 1,
             bursts: int = 10, name: str = "short TBS") -> str:
    """A scaled-down TBS protocol (same structure as protocols/tbs_ltp.toml)."""
    return baseline_toml(base_min, interval_s, name=name) + f"""
[[phases]]
kind = "induction"
name = "TBS"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = {bursts}
burst_interval_ms = 200.0
trains = {trains}
train_interval_s = 10.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = {follow_min!r}
interval_s = {interval_s!r}
"""


def write_short_tbs(tmp_path: Path, base_min: float = 2.0, follow_min: float = 3.0, interval_s: float = 10.0,
                    trains: int = 1, name: str = "short_tbs.toml") -> Path:
    """Write :func:`tbs_toml` to ``tmp_path / name``."""
    p = tmp_path / name
    p.write_text(tbs_toml(base_min, follow_min, interval_s, trains=trains))
    return p


@pytest.fixture
def short_tbs(tmp_path: Path) -> Path:
    return write_short_tbs(tmp_path)
