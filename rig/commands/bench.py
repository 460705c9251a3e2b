"""`rig bench`: measured performance on this machine, each figure beside its reference."""

from __future__ import annotations

import argparse
import json

from rig.bench.suite import BENCHES, run_benches
from rig.core.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure performance on this machine")
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help=f"run only these benches ({', '.join(BENCHES)})")
    p.add_argument("--sustained", action="store_true",
                   help="paced run with the window open: lost samples and CPU (default 8 ch × 50 kHz, 10 min)")
    p.add_argument("--minutes", type=float, default=10.0, help="--sustained: duration (min)")
    p.add_argument("--channels", type=int, default=8, help="--sustained: AI channels")
    p.add_argument("--rate", type=float, default=50_000.0, help="--sustained: sample rate (Hz)")
    p.add_argument("--sites", type=int, default=None, metavar="N",
                   help="N simulated slices × 2 pathways on one board (10 min each), beside one slice alone; "
                        "with --sustained: paced at --speed 1 with the grid window, --minutes long")
    p.add_argument("--no-window", action="store_true", help="--sustained: headless")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.only:
        bad = [o for o in args.only if o not in BENCHES]
        if bad:
            raise UserError(f"--only: unknown bench {bad[0]!r} (have {', '.join(BENCHES)})")
    if args.sites is not None:
        if not 1 <= args.sites <= 16:
            raise UserError(f"--sites: {args.sites} outside 1–16")
        if args.sustained:
            if not 0 < args.minutes <= 600:
                raise UserError("--sustained --sites: need 0 < --minutes ≤ 600")
            from rig.bench.sites import bench_sustained_sites

            res = bench_sustained_sites(args.sites, args.minutes, window=not args.no_window)
        else:
            from rig.bench.sites import bench_sites

            res = bench_sites(args.sites, min(args.minutes, 10.0))
    elif args.sustained:
        if not (0 < args.minutes <= 600 and 1 <= args.channels <= 32 and 1000 <= args.rate <= 250_000):
            raise UserError("--sustained: need 0 < --minutes ≤ 600, 1 ≤ --channels ≤ 32, 1000 ≤ --rate ≤ 250000")
        from rig.bench.sustained import bench_sustained

        res = bench_sustained(args.minutes, args.channels, args.rate, window=not args.no_window)
    else:
        res = run_benches(args.only)
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            if isinstance(v, dict):  # per site
                for name, row in v.items():
                    print(f"{k + '.' + name:32s} " + "  ".join(f"{a} {b:.4g}" if isinstance(b, float) else f"{a} {b}"
                                                             for a, b in row.items()))
            else:
                print(f"{k:32s} {v:,.4g}" if isinstance(v, float) else f"{k:32s} {v}")
    return 0
