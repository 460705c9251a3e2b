"""The base of every event type (:class:`Event`); the vocabulary itself is :mod:`rig.core.events`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

_BASE_FIELDS = ("sample", "text", "extra")


def _stored(name: str, default: Any = None, **kw: Any) -> Any:
    """A field stored in ``data`` under another key (e.g. ``kind``, ``text``, which are taken)."""
    return field(default=default, metadata={"stored": name}, **kw)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: ``sample`` (absolute, on the device clock), human-readable ``text``."""

    KIND: ClassVar[str] = ""
    sample: int
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def data(self) -> dict[str, Any]:
        """The stored JSON object: the type's fields (under their stored names), then ``extra``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _BASE_FIELDS:
                continue
            v = getattr(self, f.name)
            out[f.metadata.get("stored", f.name)] = list(v) if isinstance(v, tuple) else v
        return {**out, **self.extra}
