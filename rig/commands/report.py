"""`rig report FILES...`: time courses, group comparisons, statistics and figures across experiments."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rig.commands.summary import add_mea_options, mea_settings
from rig.core.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="group time courses, statistics and figures across recordings")
    p.add_argument("files", nargs="*", type=Path, help="recordings (.h5); directories are searched for *.h5")
    p.add_argument("--group-by", default="drug", metavar="KEY[,KEY]",
                   help="metadata key(s) forming the groups: drug (name + concentration), genotype, protocol, "
                        "or any [metadata] key; comma-separated to cross them (default: drug)")
    p.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: ./report)")
    p.add_argument("--format", choices=("png", "pdf", "svg"), default="png", help="figure format")
    p.add_argument("--bin-min", type=float, default=1.0, help="time-course bin width, min (default 1)")
    p.add_argument("--no-experiments", action="store_true", help="skip the per-experiment figures")
    p.add_argument("--title", default="", help="title of the report and main figure")
    p.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    p.add_argument("--analysis", type=int, default=None, metavar="N",
                   help="use analysis version N of every recording (default: each one's newest)")
    add_mea_options(p)
    p.set_defaults(func=run)


def expand_inputs(files: list[Path]) -> list[Path]:
    out: list[Path] = []
    for f in files:
        out += sorted(f.rglob("*.h5")) if f.is_dir() else [f]
    return out


def run(args: argparse.Namespace) -> int:
    from rig.analysis.report import make_report  # matplotlib/scipy/statsmodels load only for this command

    paths = expand_inputs(args.files)
    if not paths:
        raise UserError("report: no input recordings given (FILES... or a directory holding *.h5)")
    if not args.bin_min > 0:
        raise UserError(f"report: --bin-min: must be > 0 (got {args.bin_min})")
    rep = make_report(paths, args.out, group_by=args.group_by, fmt=args.format, bin_min=args.bin_min,
                      per_experiment=not args.no_experiments, title=args.title, analysis=args.analysis,
                      mea_settings=mea_settings(args))
    for e in rep.excluded:
        print(f"excluded: {e.path}: {e.reason}", file=sys.stderr)
    if rep.slices.empty:
        raise UserError(f"report: none of the {len(paths)} recordings can be reported (see the exclusions above)")
    if args.json:
        print(json.dumps(rep.to_json(), default=str))
    else:
        for r in rep.groups.itertuples():
            print(f"{r.group:<32} n = {r.n_slices:>2} slices / {r.n_animals:>2} animals   "
                  f"{r.mean_pct:6.1f} ± {r.sem_pct:4.1f} % of baseline (mean ± SEM)")
        for m in rep.mea:
            print(f"MEA {Path(m['file']).name}: {m['caption']}   LTP map: {m['figure']}")
        used = sorted({e.analysis_version for g in rep.experiments.values() for e in g})
        print(f"report: analysis version{'s' if len(used) > 1 else ''} {', '.join(map(str, used))} "
              f"({'newest of each file' if args.analysis is None else '--analysis'}); {rep.files['html']}",
              file=sys.stderr)
    return 0
