"""The building blocks every protocol model shares: strict types, a [start, end] pair, a pathway name."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

PathwayName = Annotated[str, Field(min_length=1, max_length=16, description="a pathway of the rig file, e.g. S1")]


class _Strict(BaseModel):
    """Strict types: "150" or true is not a number, 1.5 or 2.0 not a count, "yes" not a boolean
    (a TOML integer is a valid float). Pairs are 2-item lists, as TOML writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True, defer_build=True)


Pair = Annotated[list[float], Field(min_length=2, max_length=2, description="[start, end]")]
