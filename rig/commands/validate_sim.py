"""`rig validate-sim`: the virtual slice's calibration and prediction rows through the real pipeline."""

from __future__ import annotations

import argparse
import json
import math
import sys

from rig.core.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate-sim",
                       help="run the simulator's calibration and prediction rows through the pipeline")
    p.add_argument("--json", action="store_true", help="one JSON list on stdout")
    p.add_argument("--slices", type=int, default=8, metavar="N",
                   help="simulated slices per condition (default 8)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the slice groups")
    p.add_argument("--processes", type=int, default=2,
                   help="Dask workers of a local cluster (default 2; 1 runs in this process)")
    p.add_argument("--only", action="append", default=None, metavar="TEXT",
                   help="run only conditions whose name contains TEXT (repeatable)")
    p.add_argument("--cr", metavar="PNG", default=None,
                   help="instead of the table: basimglurant concentration-response of DHPG-LTD "
                        "(pre-incubated, WT and Fmr1-KO) through the pipeline, figure written to PNG")
    p.set_defaults(func=run)


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def run(args: argparse.Namespace) -> int:
    from rig.bench.validate_sim import CONDITIONS, run_groups, summarise, with_vehicles

    if args.slices < 2:
        raise UserError("--slices: need at least 2 slices per condition (for a SEM)")
    if args.processes < 1:
        raise UserError("--processes: must be >= 1")
    if args.cr:
        from rig.bench.validate_sim_cr import CR_NM, concentration_response, plot_concentration_response

        rows = concentration_response(list(CR_NM), args.slices, args.seed, args.processes)
        plot_concentration_response(rows, args.cr)
        if args.json:
            print(json.dumps(rows))
        print(f"validate-sim: figure written to {args.cr}", file=sys.stderr)
        return 0
    conds = list(CONDITIONS)
    if args.only:
        conds = [c for c in conds if any(o.lower() in c.name.lower() for o in args.only)]
        if not conds:
            raise UserError(f"--only: no condition matches {args.only}")
        conds = with_vehicles(conds)  # a row compared with a vehicle brings the vehicle along

    def progress(msg: str) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    print(f"validate-sim: {len(conds)} conditions × {args.slices} slices", file=sys.stderr)
    res = run_groups(conds, args.slices, args.seed, args.processes, progress)
    rows = summarise(conds, res)
    if args.json:
        keys = ("condition", "kind", "target", "measured_mean", "measured_sem", "n", "pass",
                "vehicle", "ratio_to_vehicle")
        print(json.dumps([{k: r[k] for k in keys if k in r} for r in rows]))
    else:
        print(f"{'kind':11s} {'condition':56s} {'target':40s} {'measured':>16s} {'vs vehicle':>10s} "
              f"{'n':>3s}  pass")
        for r in rows:
            m = f"{_fmt(r['measured_mean'])} ± {_fmt(r['measured_sem'])}"
            q = f"{r['ratio_to_vehicle']:.2f}" if "ratio_to_vehicle" in r else ""
            print(f"{r['kind']:11s} {r['condition']:56s} {r['target']:40s} {m:>16s} {q:>10s} "
                  f"{r['n']:3d}  {'yes' if r['pass'] else 'NO'}")
    return 0 if all(r["pass"] for r in rows) else 1
