"""`rig schema protocol|rig`: the JSON Schema of a protocol file or a rig file (for editors)."""

from __future__ import annotations

import argparse
import json

from rig.protocol.models import Protocol
from rig.protocol.rigfile import RigConfig

SCHEMAS = {"protocol": Protocol, "rig": RigConfig}


def schema(which: str) -> dict:
    """JSON Schema (draft 2020-12, as pydantic writes it) of the chosen file type."""
    s = SCHEMAS[which].model_json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = {"protocol": "LTP Rig protocol file", "rig": "LTP Rig rig file"}[which]
    return s


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of a protocol or rig file")
    p.add_argument("which", choices=sorted(SCHEMAS), help="which file type")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(json.dumps(schema(args.which), indent=2, ensure_ascii=False))
    return 0
