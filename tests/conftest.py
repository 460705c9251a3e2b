"""Shared fixtures: short protocols written to tmp_path, and paths of the shipped ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ROOT / "protocols"

SHORT_TBS = """
[experiment]
name = "short TBS"

[stimulation]
pathways = ["S1"]
intensity_uA = [100.0]
width_us = 100.0

[[phases]]
kind = "baseline"
duration_min = {base_min}
interval_s = {interval_s}

[[phases]]
kind = "induction"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = 10
burst_interval_ms = 200.0
trains = {trains}
train_interval_s = 10.0

[[phases]]
kind = "follow_up"
duration_min = {follow_min}
interval_s = {interval_s}
"""


def write_short_tbs(tmp_path: Path, base_min: float = 2.0, follow_min: float = 3.0, interval_s: float = 10.0,
                    trains: int = 1, name: str = "short_tbs.toml") -> Path:
    """A scaled-down TBS protocol (same structure as protocols/tbs_ltp.toml)."""
    p = tmp_path / name
    p.write_text(SHORT_TBS.format(base_min=base_min, follow_min=follow_min, interval_s=interval_s, trains=trains))
    return p


@pytest.fixture
def short_tbs(tmp_path: Path) -> Path:
    return write_short_tbs(tmp_path)
