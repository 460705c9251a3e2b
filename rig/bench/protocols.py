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
