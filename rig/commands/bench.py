"""`rig bench`: measured performance on this machine, each figure beside its reference."""

from __future__ import annotations

import argparse
import json

from rig.bench import BENCHES, run_benches
from rig.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure performance on this machine")
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help=f"run only these benches ({', '.join(BENCHES)})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.only:
        bad = [o for o in args.only if o not in BENCHES]
        if bad:
            raise UserError(f"--only: unknown bench {bad[0]!r} (have {', '.join(BENCHES)})")
    res = run_benches(args.only)
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:32s} {v:,.4g}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0
