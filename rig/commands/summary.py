"""`rig summary FILE`: what a recording holds and its result (works on a live recording too);
FILE may be the run index of a multi-site run (every site with its result)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rig.analysis.mea_results import MapSettings
from rig.analysis.summary import format_summary, summarize
from rig.core.errors import UserError
from rig.detector.measurement import SLOPE_FIELD
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
    add_mea_options(p)
    p.set_defaults(func=run)


def add_mea_options(p: argparse.ArgumentParser) -> None:
    """MEA recordings: the thresholds of the per-electrode result (docs/mea.md)."""
    d = MapSettings()
    g = p.add_argument_group("MEA recordings (docs/mea.md)")
    g.add_argument("--potentiated", type=float, default=d.potentiated_percent, metavar="PCT",
                   help=f"an electrode potentiated above PCT %% of baseline (default {d.potentiated_percent:g})")
    g.add_argument("--depressed", type=float, default=d.depressed_percent, metavar="PCT",
                   help=f"an electrode depressed below PCT %% of baseline (default {d.depressed_percent:g})")
    g.add_argument("--mea-method", choices=tuple(SLOPE_FIELD), default=d.method,
                   help=f"slope method of the per-electrode result (default {d.method})")


def mea_settings(args: argparse.Namespace) -> MapSettings:
    try:
        return MapSettings(potentiated_percent=args.potentiated, depressed_percent=args.depressed,
                           method=args.mea_method)
    except ValueError as exc:
        raise UserError(f"--potentiated/--depressed: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from rig.storage.run_index import is_index

    if is_index(args.file):  # a multi-site run: every site with its result
        from rig.analysis.site_summary import format_index_summary, summarize_index

        s = summarize_index(args.file)
        print(json.dumps(s) if args.json else format_index_summary(s))
        return 0
    settings = mea_settings(args)
    with open_recording(args.file, args.analysis) as rec:
        if args.averaged and not len(rec.averaged):
            raise UserError(f"{args.file}: --averaged: no averaged measurements in analysis version {rec.analysis} "
                            "(record with --average N, or `rig analyze FILE --average N --save`)")
        s = summarize(rec, averaged=args.averaged, mea_settings=settings)
    print(json.dumps(s) if args.json else format_summary(s))
    return 0
