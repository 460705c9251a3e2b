"""`rig summary FILE`: what a recording holds and its result (works on a live recording too);
FILE may be the run index of a multi-site run (every site with its result)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rig.analysis.summary import format_summary, summarize
from rig.core.errors import UserError
from rig.storage import open_recording


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="what a recording holds and its result")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--analysis", type=int, default=None, metavar="N",
                   help="use analysis version N (default: the newest; `rig summary` lists them)")
    p.add_argument("--averaged", action="store_true",
                   help="the result from the averaged measurements (recorded with --average N, or "
                        "`rig analyze --average N --save`) instead of the single sweeps")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rig.storage.run_index import is_index

    if is_index(args.file):  # a multi-site run: every site with its result
        from rig.analysis.site_summary import format_index_summary, summarize_index

        s = summarize_index(args.file)
        print(json.dumps(s) if args.json else format_index_summary(s))
        return 0
    with open_recording(args.file, args.analysis) as rec:
        if args.averaged and not len(rec.averaged):
            raise UserError(f"{args.file}: --averaged: no averaged measurements in analysis version {rec.analysis} "
                            "(record with --average N, or `rig analyze FILE --average N --save`)")
        s = summarize(rec, averaged=args.averaged)
    print(json.dumps(s) if args.json else format_summary(s))
    return 0
