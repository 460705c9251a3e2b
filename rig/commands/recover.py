"""`rig recover FILE`: write a clean copy of a crashed (or any) recording and say what it holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rig.analysis.export import check_output
from rig.core.errors import RunFailure, UserError
from rig.experiment.runner import eprint
from rig.storage.recover import RecoverError, recover


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recover", help="write a clean copy of a crashed recording (the original is untouched)")
    p.add_argument("file", type=Path, help="recording (HDF5) to recover")
    p.add_argument("--out", type=Path, default=None, help="clean copy (default: FILE-recovered.h5)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print the recovery report as JSON on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    src: Path = args.file
    if not src.is_file():
        raise UserError(f"{src}: no such file")
    out: Path = args.out or src.with_name(f"{src.stem}-recovered{src.suffix or '.h5'}")
    check_output(out, args.force, (src,))
    if out.exists():
        out.unlink()
    try:
        rep = recover(src, out)
    except RecoverError as exc:
        raise RunFailure(f"{exc}; nothing recovered") from exc
    if args.json:
        print(json.dumps(rep))
    else:
        how = "opened directly" if rep["opened_directly"] else "opened after clearing the 'open for write' flags"
        print(f"source        {rep['source']} ({how}; {'complete' if rep['was_complete'] else 'INCOMPLETE'}: "
              f"{rep['stop_reason']})")
        print(f"sweeps        {rep['sweeps_recovered']} recovered of {rep['sweeps_listed']} listed, "
              f"{rep['sweeps_dropped']} dropped (failed bounds/CRC check)")
        print(f"tables        {rep['measurements']} measurements, {rep['events']} events, {rep['phases']} phases")
        print(f"recorded      {rep['recorded_s'] / 60:.1f} min on the sample clock")
    eprint(f"rig: clean copy written to {out}")
    return 0
