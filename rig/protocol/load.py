"""Protocol files (TOML): read, validate completely, expand into a :class:`rig.core.plan.Plan`.

The language itself is :mod:`rig.protocol.models`; the expansion for a rig (and the checks that
need the rig's wiring and limits) is :mod:`rig.protocol.expand`. Problems are reported all at once, one
line each, as ``file:line: field.path: message`` (:class:`rig.protocol.problems.InvalidFile`).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from rig.core.errors import UserError
from rig.core.plan import Plan
from rig.protocol.expand import expand_checked
from rig.protocol.models import Protocol
from rig.protocol.problems import InvalidFile, Problem, decode_text, problems_from_validation
from rig.protocol.rigfile import RigConfig

__all__ = ["Protocol", "expand", "load_protocol", "parse_protocol"]

def parse_protocol(text: str, name: str) -> Protocol:
    """Validate protocol text; raise :class:`InvalidFile` (one problem per line)."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InvalidFile(name, text, [Problem((), f"not valid TOML: {exc or 'nested too deeply'}")]) from None
    if not data:
        raise InvalidFile(name, text, [Problem((), "empty protocol: needs [experiment] and [[phases]]")])
    try:
        proto = Protocol.model_validate(data)
    except ValidationError as exc:
        raise InvalidFile(name, text, problems_from_validation(exc)) from None
    proto._source = (name, text)  # so that expand() can name file lines
    return proto


def load_protocol(path: str | Path) -> tuple[Protocol, str]:
    """Read and validate a protocol file; raise UserError naming file:line and field."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise UserError(f"{p}: cannot read protocol ({exc.strerror or exc})") from None
    text = decode_text(raw, str(p))
    return parse_protocol(text, str(p)), text


def expand(proto: Protocol, rig: RigConfig, name: str = "") -> Plan:
    """Expand a validated protocol for a rig into a plan (integer samples, no drift).

    Raises :class:`InvalidFile` (a UserError) listing every problem, e.g. a limit of the rig.
    """
    src_name, text = proto._source
    return expand_checked(proto, rig, name or src_name or proto.experiment.name, text)
