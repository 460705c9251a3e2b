"""The event table of ``docs/file-format.md``, generated from :mod:`rig.core.events`.

Regenerate: ``python -c 'from rig.core.event_doc import update_doc; update_doc("docs/file-format.md")'``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rig.core.events import _BASE_FIELDS, EVENT_TYPES

DOC_BEGIN = "<!-- event kinds: generated from rig/core/events.py, do not edit by hand -->"
DOC_END = "<!-- end of event kinds -->"


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("dict[str, Any]", "object").replace(" | ", " or ")


def markdown_table() -> str:
    """The event kinds as a Markdown table: kind, ``data`` fields, meaning."""
    rows = ["| kind | `data` fields | meaning |", "|---|---|---|"]
    for kind, t in EVENT_TYPES.items():
        fields = [f"`{f.metadata.get('stored', f.name)}` ({_type_name(f.type)})"
                  for f in dataclasses.fields(t) if f.name not in _BASE_FIELDS]
        doc = " ".join((t.__doc__ or "").split())
        rows.append(f"| `{kind}` | {', '.join(fields) or '—'} | {doc} |")
    return "\n".join(rows)


def update_doc(path: str | Path) -> bool:
    """Rewrite the generated event table between the markers in ``path``; True when it changed."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    a, b = text.index(DOC_BEGIN) + len(DOC_BEGIN), text.index(DOC_END)
    new = text[:a] + "\n" + markdown_table() + "\n" + text[b:]
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text
