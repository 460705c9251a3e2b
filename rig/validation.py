"""Turn pydantic validation errors into one readable line per problem: file:line: field: message."""

from __future__ import annotations

import re

from pydantic import ValidationError


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(text: str, loc: tuple) -> int | None:
    """Best-effort line number of the innermost named key of ``loc`` in the TOML text."""
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    key = keys[-1]
    idx = [p for p in loc if isinstance(p, int)]
    table = keys[0] if len(keys) > 1 else None
    lines = text.splitlines()
    start = 0
    if table is not None:
        hits = [i for i, ln in enumerate(lines) if re.match(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?", ln)]
        if hits:
            start = hits[min(idx[0], len(hits) - 1)] if idx else hits[0]
    for i in range(start, len(lines)):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1 if table is not None else None


def validation_problems(name: str, text: str, exc: ValidationError) -> list[dict]:
    """One dict {path, line, message} per problem."""
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _field_path(loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {err['input']!r})"
        out.append({"path": path or "<file>", "line": _line_of(text, loc), "message": msg})
    return out


def format_validation_error(name: str, text: str, exc: ValidationError) -> str:
    """All problems, one per line, each naming file:line, the field and what is allowed."""
    lines = []
    for p in validation_problems(name, text, exc):
        where = f"{name}:{p['line']}" if p["line"] else name
        lines.append(f"{where}: {p['path']}: {p['message']}")
    return "\n".join(lines)
