"""`rig export FILE --nwb OUT.nwb | --csv OUT.csv`: NWB 2 for archives, CSV for spreadsheets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rig.analysis.export import check_output, write_atomically
from rig.core.errors import UserError
from rig.experiment.runner import eprint
from rig.storage import open_recording


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a recording to NWB 2 and/or CSV")
    p.add_argument("file", type=Path, help="recording (HDF5)")
    p.add_argument("--nwb", type=Path, default=None, metavar="OUT.nwb", help="write an NWB 2 file (pynwb)")
    p.add_argument("--csv", type=Path, default=None, metavar="OUT.csv",
                   help="write the measurement time course, one row per sweep")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--species", default=None,
                   help="NWB subject species when the protocol metadata has none (default: Mus musculus)")
    p.add_argument("--electrical-series", action="store_true",
                   help="NWB sweeps as ElectricalSeries linked to the electrodes (neo 0.14 cannot read these)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON on stdout")
    p.add_argument("--analysis", type=int, default=None, metavar="N",
                   help="export analysis version N (default: the newest)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.nwb is None and args.csv is None:
        raise UserError("export: give --nwb OUT.nwb and/or --csv OUT.csv")
    if args.nwb is not None and args.csv is not None and args.nwb.resolve() == args.csv.resolve():
        raise UserError(f"{args.nwb}: --nwb and --csv name the same file")
    for out in (args.nwb, args.csv):
        if out is not None:
            check_output(out, args.force, (args.file,))
    report: dict = {}
    with open_recording(args.file, args.analysis) as rec:
        if rec.n_sweeps == 0:
            raise UserError(f"{args.file}: holds no sweeps; nothing to export")
        bad = rec.verify()
        if bad or rec.truncated is not None:
            what = f"{len(bad)} damaged sweeps (CRC fails)" if bad else "the file is truncated"
            raise UserError(f"{args.file}: {what}; never exported as zeros — run `rig recover {args.file}` "
                            "and export the clean copy")
        from rig.analysis.summary import analysis_line, analysis_used

        report["analysis"] = analysis_used(rec)
        eprint(f"rig: {analysis_line(report['analysis']).split(maxsplit=1)[1]}")
        if args.csv is not None:
            from rig.analysis.export.csv import export_csv

            report["csv"] = write_atomically(args.csv, lambda tmp: export_csv(rec, tmp))
            report["csv"]["output"] = str(args.csv)
            eprint(f"rig: {report['csv']['rows']} sweeps written to {args.csv}")
        if args.nwb is not None:
            from rig.analysis.export.nwb import SPECIES, export_nwb

            species = args.species or SPECIES
            report["nwb"] = write_atomically(
                args.nwb, lambda tmp: export_nwb(rec, tmp, species=species, electrical=args.electrical_series))
            report["nwb"]["output"] = str(args.nwb)
            eprint(f"rig: NWB file with {report['nwb']['sweeps']} sweeps written to {args.nwb}")
    if args.json:
        print(json.dumps(report))
    return 0
