"""Plain-value channel specifications for the NI-DAQmx backend (no ``nidaqmx`` import needed)."""

from __future__ import annotations

import re
from dataclasses import dataclass

TERMINAL_CONFIGS = ("DEFAULT", "RSE", "NRSE", "DIFF", "PSEUDO_DIFF")

_LINE_RE = re.compile(r"^/?(?P<dev>[^/]+)/port0/line(?P<line>\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class AIChannel:
    """One analog input: physical channel (``"Dev1/ai0"``), terminal configuration name
    (one of :data:`TERMINAL_CONFIGS`) and input range in volts at the ADC."""

    physical: str
    terminal_config: str = "DIFF"
    min_V: float = -10.0
    max_V: float = 10.0

    def __post_init__(self) -> None:
        if self.terminal_config.upper() not in TERMINAL_CONFIGS:
            raise ValueError(
                f"{self.physical}: terminal config {self.terminal_config!r} is not one of "
                f"{', '.join(TERMINAL_CONFIGS)}"
            )
        if not self.min_V < self.max_V:
            raise ValueError(f"{self.physical}: min_V {self.min_V} must be < max_V {self.max_V}")


@dataclass(frozen=True)
class AOChannel:
    """One analog output (an isolator's analog command input): physical channel
    (``"Dev1/ao0"``) and output limits in volts (the driver also clips to these)."""

    physical: str
    min_V: float = -10.0
    max_V: float = 10.0

    def __post_init__(self) -> None:
        if not self.min_V <= 0.0 <= self.max_V or self.min_V == self.max_V:
            raise ValueError(
                f"{self.physical}: AO range [{self.min_V}, {self.max_V}] V must contain 0 V"
            )


def do_line_number(line: str, device: str) -> int:
    """Line number of a hardware-timed DO line ``"Dev1/port0/lineN"`` on ``device``.

    X-series boards clock only port0 from a sample clock, so every DO line must be on port0.
    """
    m = _LINE_RE.match(line.strip())
    if m is None or m.group("dev") != device:
        raise ValueError(
            f"DO line {line!r}: must be '{device}/port0/lineN' (only port0 is hardware-timed)"
        )
    n = int(m.group("line"))
    if n > 31:
        raise ValueError(f"DO line {line!r}: port0 has lines 0-31")
    return n


def check_channel_device(physical: str, device: str) -> None:
    """Raise ValueError unless ``physical`` (``"Dev1/ai0"``) belongs to ``device``."""
    if physical.strip().lstrip("/").split("/")[0] != device:
        raise ValueError(f"channel {physical!r} is not on device {device!r}")
