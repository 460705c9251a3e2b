"""`rig power`: how many slices a planned comparison needs.

    rig power --protocol protocols/dhpg_ltd.toml --group "Fmr1-KO vehicle" \
              --group "Fmr1-KO + basimglurant 3 nM" --n 4:16:2 --repeats 200

Every slice is simulated through the real pipeline (virtual slice, engine, detector, storage) and
measured like ``rig report``; the power per n is printed (and ``--json``: one object on stdout),
with ``power.csv``, ``slices.csv`` and ``power.png`` in ``--out``. Runs on a Dask ``LocalCluster``
over this machine's cores by default, on a lab's cluster with ``--scheduler tcp://HOST:PORT``, or in
this process with ``--serial``. Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rig.core.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("power", help="statistical power of a planned comparison, from simulated slices")
    p.add_argument("--protocol", type=Path, required=True, help="protocol file (TOML) every slice runs")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--group", action="append", default=[], metavar="SPEC",
                   help='a group: "GENOTYPE vehicle" or "GENOTYPE + DRUG CONC nM|µM|mM" (give ≥ 2)')
    p.add_argument("--n", default="4:16:2", help="slices per group: START:STOP[:STEP] or a list (default 4:16:2)")
    p.add_argument("--repeats", type=int, default=200, help="simulated studies per n (default 200)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--test", default=None, help="welch | mann-whitney (2 groups), anova | kruskal (more); "
                   "default welch / anova, as rig report")
    p.add_argument("--seed", type=int, default=1, help="seed of the first slice (default 1)")
    p.add_argument("--pre-incubation-min", type=float, default=20.0,
                   help="drug wash-in before the protocol's first phase (min, default 20)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="a Dask scheduler, e.g. tcp://HOST:8786 "
                   "(default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: one per core)")
    p.add_argument("--serial", action="store_true", help="run in this process, no Dask")
    p.add_argument("--also-serial", action="store_true",
                   help="also run serially and report both wall times and whether the results are identical")
    p.add_argument("--out", type=Path, default=Path("power"), help="output directory (default ./power)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def design_from_args(args: argparse.Namespace):
    from rig.study.design import MAX_REPEATS, Design, parse_group, parse_n
    from rig.study.power import check_test, default_test

    groups = tuple(parse_group(g) for g in args.group)
    if len(groups) < 2:
        raise UserError("--group: give at least two groups to compare")
    if len({g.label for g in groups}) != len(groups):
        raise UserError("--group: the same group is given twice")
    if not 1 <= args.repeats <= MAX_REPEATS:
        raise UserError(f"--repeats {args.repeats}: must be within 1..{MAX_REPEATS}")
    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha {args.alpha}: must be within (0, 1)")
    if not 0 < args.pre_incubation_min <= 600:
        raise UserError(f"--pre-incubation-min {args.pre_incubation_min}: must be within (0, 600] min")
    if args.workers is not None and not 1 <= args.workers <= 512:
        raise UserError(f"--workers {args.workers}: must be within 1..512")
    test = args.test or default_test(len(groups))
    check_test(test, len(groups))
    try:
        text = args.protocol.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{args.protocol}: cannot read protocol ({exc})") from None
    return Design(args.protocol, text, args.rig, groups, tuple(parse_n(args.n)), args.repeats, args.alpha, test,
                  args.seed, args.pre_incubation_min)


def run(args: argparse.Namespace) -> int:
    from rig.study import execute
    from rig.study.power import TESTS, power_curve, write_outputs
    from rig.study.simulate import check_design, jobs, simulate_slice

    design = design_from_args(args)
    check_design(design)  # every group's plan and slice, before anything runs
    todo = jobs(design)
    print(f"rig power: {len(todo)} slices ({design.repeats} repeats × {len(design.groups)} groups × "
          f"{design.n_max}), {TESTS[design.test]}, α = {design.alpha:g}", file=sys.stderr)
    timing: dict[str, float] = {}
    serial_results = None
    if args.serial or args.also_serial:
        t0 = time.perf_counter()
        serial_results = execute.run_serial(simulate_slice, todo)
        timing["serial_wall_s"] = time.perf_counter() - t0
    results = serial_results
    if not args.serial:
        client, cluster = execute.connect(args.scheduler, args.workers)
        try:
            timing["dask_workers"] = len(client.scheduler_info().get("workers", {}))
            t0 = time.perf_counter()
            results = execute.run_dask(simulate_slice, todo, client)
            timing["dask_wall_s"] = time.perf_counter() - t0
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    points = power_curve(design, results, design.test)
    files = write_outputs(design, results, points, args.out)
    doc = {"groups": [g.label for g in design.groups], "test": TESTS[design.test], "alpha": design.alpha,
           "repeats": design.repeats, "slices_simulated": len(todo),
           "power": [p.__dict__ for p in points], "files": files, **timing}
    if serial_results is not None and not args.serial:
        doc["identical_to_serial"] = serial_results == results
    if args.json:
        print(json.dumps(doc))
    else:
        print(f"{'n/group':>8} {'power':>6}  95 % CI        mean diff (% of baseline)")
        for p in points:
            print(f"{p.n:>8} {p.power:6.2f}  {p.ci_low:4.2f}–{p.ci_high:4.2f}      {p.mean_difference_pct:+.1f}")
        for k, v in timing.items():
            print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
        if "identical_to_serial" in doc:
            print(f"identical to serial: {doc['identical_to_serial']}")
        print(f"files: {', '.join(files.values())}")
    return 0
