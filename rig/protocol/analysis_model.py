"""The protocol's ``[analysis]`` table: detector windows (for every pathway, and per pathway), auto
windows, the averaged measurement.

```toml
[analysis]
windows = { slope = [3.0, 4.5] }          # every pathway
[analysis.pathways.S2.windows]            # S2's own (on top of the table above)
slope = [2.6, 3.6]
volley = [0.8, 2.2]
```
"""

from __future__ import annotations

from pydantic import Field, model_validator

from rig.core.plan import AUTO_WINDOWS_DEFAULT, SETTLE_SWEEPS_DEFAULT
from rig.protocol.model_base import Pair, PathwayName, _Strict

Windows_ = dict[str, Pair | float]


class PathwayAnalysis(_Strict):
    """One pathway's own analysis settings."""

    windows: Windows_ = Field(default_factory=dict, description="this pathway's detector windows, on top of "
                              "[analysis] windows, e.g. {slope = [2.6, 3.6]}")


class Analysis(_Strict):
    """Online analysis settings: detector windows (ms from the pulse onset) overriding the defaults."""

    windows: Windows_ = Field(
        default_factory=dict,
        description="e.g. {slope = [2.8, 4.2], baseline = [-5, -0.5], max_slope_width_ms = 0.8}")
    pathways: dict[PathwayName, PathwayAnalysis] = Field(
        default_factory=dict, description="per pathway (S1, S2, …): its own windows, e.g. "
                                          "[analysis.pathways.S2.windows] slope = [2.6, 3.6]")
    auto_windows: bool = Field(AUTO_WINDOWS_DEFAULT, description="place the windows from the landmarks of the "
                               "first "
                               "settle_sweeps baseline sweeps of each pathway and apply them, per pathway, before "
                               "the baseline counts (windows given in `windows`, `pathways` or by --window stay)")
    settle_sweeps: int = Field(SETTLE_SWEEPS_DEFAULT, ge=2, le=100,
                               description="baseline test sweeps per pathway averaged for the "
                               "window proposal; with auto_windows they do not count in the baseline")
    average: int = Field(1, ge=1, le=100, description="also measure the average of every N consecutive test "
                         "sweeps of each pathway (1: off)")

    @model_validator(mode="after")
    def _windows_valid(self) -> Analysis:
        from rig.detector.windows import Windows

        base = Windows.from_dict(dict(self.windows))  # raises ValueError naming the window
        for name, pa in self.pathways.items():
            try:
                Windows.from_dict({**base.to_dict(), **dict(pa.windows)})
            except ValueError as exc:
                raise ValueError(f"pathways.{name}.windows: {exc}") from None
        return self
