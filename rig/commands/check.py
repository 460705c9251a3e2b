"""`rig check PROTOCOL`: validate a protocol against a rig and summarise the plan."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rig.errors import UserError
from rig.plan_summary import format_plan, plan_summary
from rig.runner import RunOptions, prepare


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate a protocol and summarise its plan")
    p.add_argument("protocol", type=Path)
    p.add_argument("--rig", type=Path, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        plan, rig, _, _ = prepare(RunOptions(protocol=args.protocol, rig=args.rig))
    except UserError as exc:
        if args.json:
            errors = [{"path": ln.split(": ")[1] if ln.count(": ") >= 2 else "", "message": ln}
                      for ln in str(exc).splitlines()]
            print(json.dumps({"valid": False, "errors": errors}))
            return 2
        raise
    s = plan_summary(plan, rig)
    print(json.dumps({"valid": True, "errors": [], **s}) if args.json else format_plan(s))
    return 0
