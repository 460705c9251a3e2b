"""`rig check PROTOCOL [--rig RIG] [--json]`: validate a protocol against a rig, summarise the plan.

Exit 0 with the plan summary; exit 2 with one line per problem on stderr
(``file:line: field.path: message``). ``--json`` prints one object on stdout either way:
``valid``, ``errors`` [{path, message, file, line}], ``duration_s``, ``phases``
[{name, kind, start_s, end_s, pulses, …}], ``total_pulses``, ``max_intensity_uA``, ….
Nothing is armed and no device is opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rig.core.errors import UserError
from rig.core.plan import Plan
from rig.protocol.load import expand, load_protocol
from rig.protocol.plan_summary import format_plan, plan_summary
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import RigConfig, load_rig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="validate a protocol and summarise its plan")
    p.add_argument("protocol", type=Path, nargs="?", default=None,
                   help="protocol file (TOML); multi-site: the protocol of every site without --site (or the rig file)")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--site", action="append", default=[], metavar="NAME=PROTOCOL",
                   help="multi-site rig: the protocol of site NAME (repeatable); checks the guard between sites")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)


def _errors(exc: UserError) -> list[dict]:
    if isinstance(exc, InvalidFile):
        return [{"path": e["path"], "message": e["message"], "file": exc.name, "line": e["line"]}
                for e in exc.errors]
    return [{"path": "", "message": str(exc), "file": "", "line": None}]


def check(protocol: Path, rig_path: Path | None) -> tuple[Plan | None, RigConfig | None, list[UserError]]:
    """Validate both files; every problem found (the rig's and the protocol's) is returned."""
    failures: list[UserError] = []
    proto = rig = None
    try:
        proto, _ = load_protocol(protocol)
    except UserError as exc:
        failures.append(exc)
    try:
        rig, _ = load_rig(rig_path)
        if rig.backend == "nidaq":  # wiring the board cannot do (checked without touching it)
            from rig.experiment.nidaq_rig import check_nidaq_rig

            try:
                check_nidaq_rig(rig)
            except UserError as exc:
                msg = str(exc).removeprefix("rig file: ")
                raise UserError(f"{rig_path or '<default sim rig>'}: {msg}") from None
    except UserError as exc:
        failures.append(exc)
    if failures:
        return None, rig, failures
    try:
        return expand(proto, rig, str(protocol)), rig, []
    except UserError as exc:
        return None, rig, [exc]


def run(args: argparse.Namespace) -> int:
    from rig.commands.run_sites import check_sites, multisite

    found = multisite(args)
    if found is not None:
        return check_sites(args, found)
    if args.protocol is None:
        raise UserError("rig check: the protocol is missing: give PROTOCOL (or --rig RIG --site NAME=PROTOCOL "
                        "on a multi-site rig)")
    plan, rig, failures = check(args.protocol, args.rig)
    if failures:
        if args.json:
            print(json.dumps({"valid": False, "errors": [e for f in failures for e in _errors(f)]}))
        for f in failures:
            for line in (f.lines() if isinstance(f, InvalidFile) else str(f).splitlines()):
                print(line, file=sys.stderr)
        return 2
    s = plan_summary(plan, rig)
    lay = rig.mea_layout() if rig is not None else None
    if lay is not None:  # MEA mode (docs/mea.md): the array as data
        s["mea"] = lay.to_dict()
    print(json.dumps({"valid": True, "errors": [], **s}) if args.json else format_plan(s) + _mea_line(lay, rig))
    return 0


def _mea_line(lay, rig: RigConfig | None) -> str:
    if lay is None or rig is None:
        return ""
    names = rig.pathway_names()
    stim = ", ".join(f"{names[k]} → {e}" for k, e in sorted(lay.stim_electrodes.items()))
    return (f"\nMEA: {lay.n} electrodes ({lay.rows}×{lay.cols}, {lay.pitch_um:g} µm), field electrode "
            f"{lay.field_electrode}, stimulating {stim}; every electrode measured every sweep (docs/mea.md)")
