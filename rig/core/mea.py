"""MEA mode as data: the electrode layout of a multi-electrode array and the document that carries
every electrode's measurements of one sweep.

A multi-electrode array (MED64, Multi Channel Systems 60MEA, …) records one slice on up to 64
planar electrodes on a grid of ``rows × cols`` positions ``pitch_um`` apart. Electrodes are
numbered by their grid position, row by row from the top left, 1 … rows·cols (positions without an
electrode — the corners of a 60-electrode 8×8 array — keep their numbers unused). One or more
electrodes stimulate (one per stimulus pathway); one, the *field electrode*, is measured and shown
as the field of a single-electrode recording (closed loop, time course, result).

AI columns: the field electrode is column 0 (every single-channel consumer reads column 0), the
other electrodes follow in electrode order. :attr:`MEALayout.column` gives each electrode's column.
Plain data, no numpy: the rig file, storage, display and analysis all share it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MAX_ELECTRODES = 64


@dataclass(frozen=True)
class MEALayout:
    """Where each recorded electrode sits, and which column of the samples holds it.

    ``electrodes``: electrode numbers in AI column order (``electrodes[0]`` is ``field_electrode``);
    ``stim_electrodes``: pathway index → the electrode it stimulates through (recorded too, but
    never analysed: its artifact saturates it)."""

    rows: int
    cols: int
    pitch_um: float
    electrodes: tuple[int, ...]
    field_electrode: int
    stim_electrodes: dict[int, int] = field(default_factory=dict)
    channels: tuple[str, ...] = ()  # physical AI channel of each column ("" when unknown)

    def __post_init__(self) -> None:
        if not self.electrodes or self.electrodes[0] != self.field_electrode:
            raise ValueError("MEA layout: column 0 must be the field electrode")
        if len(set(self.electrodes)) != len(self.electrodes):
            raise ValueError("MEA layout: an electrode is listed twice")
        n = self.rows * self.cols
        bad = [e for e in (*self.electrodes, *self.stim_electrodes.values()) if not 1 <= e <= n]
        if bad:
            raise ValueError(f"MEA layout: electrode {bad[0]} outside 1–{n} ({self.rows}×{self.cols} grid)")

    @property
    def n(self) -> int:
        return len(self.electrodes)

    def position(self, electrode: int) -> tuple[int, int]:
        """(row, col), 0-based from the top left, of an electrode number."""
        return (electrode - 1) // self.cols, (electrode - 1) % self.cols

    def xy_um(self, electrode: int) -> tuple[float, float]:
        """Position in µm from the top-left electrode (x to the right, y down)."""
        r, c = self.position(electrode)
        return c * self.pitch_um, r * self.pitch_um

    def column(self, electrode: int) -> int:
        """AI column (of the samples) that holds ``electrode``."""
        return self.electrodes.index(electrode)

    @property
    def stimulating(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.stim_electrodes.values())))

    def role(self, electrode: int) -> str:
        """``stimulating``, ``field`` or ``recording``."""
        if electrode in self.stim_electrodes.values():
            return "stimulating"
        return "field" if electrode == self.field_electrode else "recording"

    def to_dict(self) -> dict:
        return {"rows": self.rows, "cols": self.cols, "pitch_um": self.pitch_um,
                "electrodes": list(self.electrodes), "field_electrode": self.field_electrode,
                "stim_electrodes": {str(k): v for k, v in self.stim_electrodes.items()},
                "channels": list(self.channels)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict) -> MEALayout:
        return cls(int(d["rows"]), int(d["cols"]), float(d["pitch_um"]), tuple(int(e) for e in d["electrodes"]),
                   int(d["field_electrode"]), {int(k): int(v) for k, v in dict(d.get("stim_electrodes", {})).items()},
                   tuple(str(c) for c in d.get("channels", ())))

    def grid(self, values: dict[int, float]) -> np.ndarray:
        """(rows, cols) array of ``values`` by electrode number; NaN where there is none."""
        import numpy as np

        g = np.full((self.rows, self.cols), math.nan)
        for e, v in values.items():
            r, c = self.position(e)
            g[r, c] = v
        return g


@dataclass(frozen=True)
class MEAMeasured:
    """Every electrode's measurements of one sweep: ``records`` (n_electrodes, n_pulses) of the
    detector's MEASUREMENT_DTYPE, row ``k`` = AI column ``k`` (electrode ``layout.electrodes[k]``).
    ``analysis``: the analysis version (windows) it was measured with. Emitted right after its
    :class:`~rig.core.documents.Sweep`, before that sweep's ``Measured``."""

    sweep_index: int
    pathway: int
    phase: int
    sample: int
    kind: str
    records: np.ndarray
    analysis: int = 0
