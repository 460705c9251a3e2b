"""MEA mode in the rig file: the ``[mea]`` table (one slice on a multi-electrode array).

::

    [mea]
    rows = 8                      # grid of electrode positions (≤ 64 electrodes in all)
    cols = 8
    pitch_um = 200.0              # centre-to-centre spacing
    missing = []                  # grid positions without an electrode, e.g. [1, 8, 57, 64] (MCS 60MEA)
    channels = "ai0:63"           # AI channel of each electrode, in electrode order ("aiA:B" or a list)
    gain = 1100.0                 # amplifier gain (V at the ADC per V at the electrode)
    range_V = 10.0                # ADC range ± V
    terminal = "rse"
    field_electrode = 29          # the electrode measured and shown as the field (closed loop, result)
    stim_electrodes = { S1 = 20 } # the array electrode each [[stim]] pathway stimulates through

Electrodes are numbered by grid position, row by row from the top left (1 … rows·cols).
:func:`with_mea_inputs` turns the table into one field ``[[ai]]`` per electrode (named ``E<n>``),
field electrode first, ahead of the rig file's own ``[[ai]]`` entries (current monitors), so the
device, the scaling and the storage see ordinary AI channels (:mod:`rig.core.mea`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rig.core.mea import MAX_ELECTRODES, MEALayout

_RANGE = re.compile(r"^(?P<pre>[^:]*?)(?P<a>\d+):(?P<b>\d+)$")


def expand_channels(spec: str | list[str]) -> list[str]:
    """``"ai0:63"`` → ["ai0", …, "ai63"] (ascending); a list is kept as it is."""
    if isinstance(spec, list):
        return list(spec)
    m = _RANGE.match(spec.strip())
    if m is None:
        return [spec.strip()]
    a, b = int(m["a"]), int(m["b"])
    if b < a:
        raise ValueError(f"channels {spec!r}: the range must ascend (e.g. \"ai0:63\")")
    if b - a + 1 > MAX_ELECTRODES:
        raise ValueError(f"channels {spec!r}: {b - a + 1} channels; at most {MAX_ELECTRODES}")
    return [f"{m['pre']}{k}" for k in range(a, b + 1)]


class MEACfg(BaseModel):
    """The ``[mea]`` table of the rig file."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)

    rows: int = Field(8, ge=1, le=16, description="electrode grid rows")
    cols: int = Field(8, ge=1, le=16, description="electrode grid columns")
    pitch_um: float = Field(200.0, gt=0, le=5000, description="centre-to-centre electrode spacing, µm")
    missing: list[int] = Field([], max_length=256, description="grid positions (1 … rows·cols, row by row) "
                               "without an electrode, e.g. the corners of a 60-electrode array")
    channels: str | list[str] = Field(description="AI channel of each electrode in electrode order: "
                                      "\"ai0:63\" or a list")
    gain: float = Field(gt=0, le=1e6, description="amplifier gain, V at the ADC per V at the electrode")
    range_V: float = Field(10.0, gt=0, le=10.0, description="ADC input range ± V")
    terminal: Literal["differential", "rse", "nrse", "pseudodifferential", "default"] = "rse"
    field_electrode: int = Field(ge=1, description="the electrode measured and shown as the field")
    stim_electrodes: dict[str, int] = Field(min_length=1, max_length=8, description="[[stim]] pathway → the "
                                            "array electrode it stimulates through")

    @model_validator(mode="after")
    def _consistent(self) -> MEACfg:
        n_grid = self.rows * self.cols
        bad = [p for p in self.missing if not 1 <= p <= n_grid]
        if bad:
            raise ValueError(f"missing: position {bad[0]} outside 1–{n_grid} ({self.rows}×{self.cols} grid)")
        if len(set(self.missing)) != len(self.missing):
            raise ValueError("missing: a position is listed twice")
        n = len(self.electrodes)
        if not 1 <= n <= MAX_ELECTRODES:
            raise ValueError(f"{n} electrodes ({self.rows}×{self.cols} grid, {len(self.missing)} missing): "
                             f"MEA mode records 1–{MAX_ELECTRODES}")
        chans = expand_channels(self.channels)
        if len(chans) != n:
            raise ValueError(f"channels: {len(chans)} AI channels for {n} electrodes (one per electrode, "
                             "in electrode order)")
        dup = sorted({c for c in chans if chans.count(c) > 1})
        if dup or any(not c for c in chans):
            raise ValueError(f"channels: AI channel used twice or empty: {', '.join(dup) or repr('')}")
        for what, e in (("field_electrode", self.field_electrode), *(
                (f"stim_electrodes.{k}", v) for k, v in self.stim_electrodes.items())):
            if e not in self.electrodes:
                raise ValueError(f"{what} = {e}: no such electrode (1–{n_grid}"
                                 + (f" without {', '.join(map(str, sorted(self.missing)))}" if self.missing else "")
                                 + ")")
        if self.field_electrode in self.stim_electrodes.values():
            raise ValueError(f"field_electrode = {self.field_electrode}: that electrode stimulates "
                             "(its artifact saturates it); choose a recording electrode")
        return self

    @property
    def electrodes(self) -> list[int]:
        """Electrode numbers in electrode order (grid positions without the missing ones)."""
        gone = set(self.missing)
        return [e for e in range(1, self.rows * self.cols + 1) if e not in gone]

    def column_order(self) -> list[int]:
        """Electrode numbers in AI column order: the field electrode first, then the others."""
        return [self.field_electrode, *(e for e in self.electrodes if e != self.field_electrode)]

    def channel_of(self) -> dict[int, str]:
        return dict(zip(self.electrodes, expand_channels(self.channels), strict=True))

    def ai_entries(self) -> list[dict]:
        """One field ``[[ai]]`` (as rig-file data) per electrode, in AI column order."""
        ch = self.channel_of()
        return [{"name": ai_name(e), "channel": ch[e], "kind": "field", "gain": self.gain, "range_V": self.range_V,
                 "terminal": self.terminal} for e in self.column_order()]

    def layout(self, pathway_names: list[str]) -> MEALayout:
        """The layout as data (pathway names → their index in the rig file's [[stim]] order)."""
        ch = self.channel_of()
        order = self.column_order()
        return MEALayout(self.rows, self.cols, float(self.pitch_um), tuple(order), self.field_electrode,
                         {pathway_names.index(k): v for k, v in self.stim_electrodes.items()},
                         tuple(ch[e] for e in order))


def ai_name(electrode: int) -> str:
    """Name of the ``[[ai]]`` entry an electrode becomes."""
    return f"E{electrode}"


def with_mea_inputs(data: object) -> object:
    """Rig-file data with the ``[mea]`` electrodes as field ``[[ai]]`` entries ahead of the file's
    own (unchanged when there is no valid ``[mea]``: its own validation reports the problem)."""
    if not isinstance(data, dict) or not isinstance(data.get("mea"), dict):
        return data
    try:
        cfg = MEACfg.model_validate(data["mea"])
    except ValidationError:
        return data
    own = data.get("ai", [])
    if not isinstance(own, list):
        return data
    return {**data, "ai": [*cfg.ai_entries(), *own]}


def check_mea(rig) -> None:
    """The ``[mea]`` table against the rest of the rig file (ValueError naming the key)."""
    mea = rig.mea
    if mea is None:
        if not rig.ai:
            raise ValueError("ai: at least one [[ai]] (the field input) is required, or an [mea] table")
        return
    if rig.site:
        raise ValueError("mea: MEA mode records one slice; [mea] and [[site]] cannot be combined")
    n = len(mea.electrodes)
    own = rig.ai[n:]
    for a in own:
        if a.kind != "monitor":
            raise ValueError(f"ai {a.name!r}: with [mea] the electrodes are the field inputs; other [[ai]] entries "
                             f"can only be isolator current monitors (kind = \"monitor\"), not {a.kind!r}")
    pws = rig.pathway_names()
    for k in mea.stim_electrodes:
        if k not in pws:
            raise ValueError(f"mea.stim_electrodes: {k!r} is not a [[stim]] pathway (have: {', '.join(pws)})")
    lacking = [p for p in pws if p not in mea.stim_electrodes]
    if lacking:
        raise ValueError(f"mea.stim_electrodes: no electrode for pathway {', '.join(lacking)} (every [[stim]] "
                         "stimulates through an array electrode)")
