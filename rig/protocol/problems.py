"""Problems in an input file, one readable line each: ``file:line: field.path: message``.

Both pydantic's structural errors and the semantic checks made while expanding a protocol
(limits, sweep lengths, valves) become :class:`Problem`s; :class:`InvalidFile` carries them all,
so ``rig check --json`` can list them and the command line prints one line per problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from rig.core.errors import UserError

Loc = tuple[str | int, ...]

# the values each discriminator allows (filled by the models): to drop the tags pydantic puts
# into error locations, and to list them in "missing kind" messages
ALLOWED_TAGS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Problem:
    """One problem: where (field path as a tuple) and what (including what is allowed)."""

    loc: Loc
    message: str


class InvalidFile(UserError):
    """A file with one or more problems; ``errors`` lists {path, line, message} per problem."""

    def __init__(self, name: str, text: str, problems: Iterable[Problem]) -> None:
        self.name = name
        self.errors = []
        for p in problems:
            line = line_of(text, p.loc) if text else None
            self.errors.append({"path": field_path(p.loc), "line": line, "message": p.message})
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for e in self.errors:
            where = f"{self.name}:{e['line']}" if e["line"] else self.name
            out.append(f"{where}: {e['path']}: {e['message']}" if e["path"] else f"{where}: {e['message']}")
        return out


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text of a file, or a one-line UserError (binary garbage, another encoding)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        "save the file as UTF-8") from None
    if "\x00" in text:
        raise UserError(f"{name}: not a text file (contains NUL bytes)")
    return text


def field_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_UNION_TYPE_TAGS = {"float", "int", "str", "bool", "list[float]", "list[int]", "list[str]"}


def strip_tags(loc: Loc) -> Loc:
    """Drop the discriminator tags pydantic puts in a location: a phase kind after a list index,
    an induction pattern after "induction", a rule after "set_intensity"."""
    kinds, patterns, rules = (ALLOWED_TAGS.get(k, ()) for k in ("kind", "pattern", "rule"))
    out: list[str | int] = []
    prev: str | int | None = None
    prev_tag = False
    for p in loc:
        tag = isinstance(p, str) and (
            (isinstance(prev, int) and p in kinds)
            or (prev_tag and prev == "induction" and p in patterns)
            or (prev == "set_intensity" and p in rules))
        tag = tag or (isinstance(p, str) and p in _UNION_TYPE_TAGS)  # which arm of a union failed
        if not tag:
            out.append(p)
        prev, prev_tag = p, tag
    return tuple(out)


def _short(value: object) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def problems_from_validation(exc: ValidationError) -> list[Problem]:
    """One :class:`Problem` per pydantic error, with the bad value and what is allowed."""
    out = []
    for err in exc.errors(include_url=False):
        loc = strip_tags(tuple(err["loc"]))
        typ = err["type"]
        msg = err["msg"]
        if typ == "extra_forbidden":
            msg = "unknown key (check the spelling; `rig schema` lists the allowed keys)"
        elif typ == "missing":
            msg = "required field is missing"
        elif typ == "finite_number":
            msg = f"must be a finite number (got {_short(err.get('input'))})"
        elif typ in ("union_tag_invalid", "union_tag_not_found"):
            ctx = err.get("ctx", {})
            key = str(ctx.get("discriminator", "kind")).strip("'")
            allowed = ctx.get("expected_tags") or ", ".join(repr(t) for t in ALLOWED_TAGS.get(key, ()))
            loc = loc + (key,)
            msg = (f"{_short(ctx.get('tag'))} is not allowed (allowed: {allowed})" if typ == "union_tag_invalid"
                   else f"required field is missing (allowed: {allowed})" if allowed else "required field is missing")
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            if "input" in err and not isinstance(err["input"], (dict, list)):
                msg += f" (got {_short(err['input'])})"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {_short(err['input'])})"
        out.append(Problem(loc, msg))
    return out


_HEADER = re.compile(r"^\s*\[(\[)?\s*([^\]]+?)\s*\]")
_QUOTES = "\"'"


def line_of(text: str, loc: Loc) -> int | None:
    """Best-effort 1-based line of the field at ``loc`` in TOML ``text`` (None if not found)."""
    lines = text.splitlines()
    headers = [(i, m.group(2).strip().strip(_QUOTES), bool(m.group(1)))  # [phases] or ["phases"]
               for i, ln in enumerate(lines) if (m := _HEADER.match(ln))]
    keys = list(loc)
    lo, hi, header_line = 0, len(lines), None
    if keys and isinstance(keys[0], str):
        table = keys[0]
        hits = [h for h in headers if h[1] == table]
        if hits:
            k = keys[1] if len(keys) > 1 and isinstance(keys[1], int) else 0
            i = hits[min(k, len(hits) - 1)][0]
            header_line = i + 1
            lo = i + 1
            nxt = [h[0] for h in headers if h[0] > i]
            hi = nxt[0] if nxt else len(lines)
            keys = keys[2:] if len(keys) > 1 and isinstance(keys[1], int) else keys[1:]
        else:
            hi = headers[0][0] if headers else len(lines)
    for key in reversed([k for k in keys if isinstance(k, str)]):
        pat = re.compile(rf"(^|[\s{{,])([\"']?){re.escape(key)}\2\s*=")  # key, "key" or 'key' =
        for i in range(lo, hi):
            if pat.search(lines[i]):
                return i + 1
    return header_line
