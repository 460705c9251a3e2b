"""Where the benchmarks find a protocol: a path, a shipped protocol by name, or a packaged one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"


def shipped_protocol(name: str | Path) -> Path:
    """``name`` as given if it exists, else ``protocols/NAME``, else the copy packaged in ``rig.data``."""
    p = Path(name) if Path(name).exists() else PROTOCOLS / name
    if p.exists():
        return p
    return Path(str(resources.files("rig.data").joinpath(str(name))))


def bench_protocol_text(minutes: float, name: str, interval_s: float = 10.0) -> str:
    """The benches' protocol: test pulses alternating S1/S2 (150 µA, 100 µs) every ``interval_s``
    for ``minutes`` (one baseline phase)."""
    return f"""[experiment]
name = "{name}"

[stimulation]
pathways = ["S1", "S2"]
intensity_uA = [150.0, 150.0]
width_us = 100.0

[[phases]]
kind = "baseline"
duration_min = {float(minutes)!r}
interval_s = {float(interval_s)!r}
"""
