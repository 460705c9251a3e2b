"""`rig ctl`: steer a running experiment through its local control endpoint.

Examples: ``rig ctl mark "washout started"``, ``rig ctl status --json``, ``rig ctl pause``,
``rig ctl induce-now``, ``rig ctl extend-baseline --minutes 5``, ``rig ctl intensity S1 +10``,
``rig ctl set-windows slope 3.2 4.4 --pathway S2`` (one pathway's window; without ``--pathway``:
every pathway's; a new analysis version).
The endpoint file (``<recording>.ctl.json``, mode 0600) is found with ``--endpoint``, the
``RIG_CTL_ENDPOINT`` variable, or as the newest one under ``./recordings``. In a multi-site run
``--site NAME`` steers one site (``rig ctl --site A pause``), found through the run index.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
from pathlib import Path

from rig.core.errors import RunFailure, UserError

ACTIONS = ("status", "mark", "pause", "resume", "stop", "induce-now", "extend-baseline", "intensity", "set-windows")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ctl", help="steer a running experiment (local control endpoint)")
    p.add_argument("action", choices=ACTIONS, help="what to do")
    p.add_argument("args", nargs="*", help="mark: TEXT; intensity: PATHWAY (S1|1) DELTA_UA (e.g. +10); "
                                           "set-windows: WINDOW START_MS END_MS (e.g. slope 3.2 4.4)")
    p.add_argument("--pathway", default=None, metavar="S1",
                   help="set-windows: only this pathway's window (default: every pathway's)")
    p.add_argument("--endpoint", type=Path, default=None, help="endpoint file <recording>.ctl.json")
    p.add_argument("--site", default=None, metavar="NAME",
                   help="multi-site run: steer site NAME (its endpoint is found through the run index)")
    p.add_argument("--index", type=Path, default=None,
                   help="multi-site run index (*.sites.json; default: the newest under ./recordings)")
    p.add_argument("--minutes", type=float, default=5.0, help="extend-baseline: minutes (default 5)")
    p.add_argument("--json", action="store_true", help="print the reply as JSON on stdout")
    # a negative delta is an argument, not an option: -10, -2.5 and -1e3 alike (argparse knows no exponent)
    p._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
    p.set_defaults(func=run)


def find_endpoint(given: Path | None) -> Path:
    if given is not None:
        return given
    env = os.environ.get("RIG_CTL_ENDPOINT")
    if env:
        return Path(env)
    found = sorted(Path("recordings").glob("*.ctl.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UserError("--endpoint: no running experiment found (no recordings/*.ctl.json); give --endpoint FILE")
    return found[-1]


def site_endpoint(site: str, index: Path | None) -> Path:
    """The endpoint of one site of a multi-site run (``<site file>.ctl.json``)."""
    from rig.storage.run_index import SUFFIX, read_index, site_path

    if index is None:
        found = sorted(Path("recordings").glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise UserError(f"--site: no multi-site run found (no recordings/*{SUFFIX}); give --index FILE")
        index = found[-1]
    doc = read_index(index)
    names = [s["name"] for s in doc["sites"]]
    if site not in names:
        raise UserError(f"--site: {site!r} is not a site of {index} (have: {', '.join(names)})")
    rec = site_path(index, doc["sites"][names.index(site)])
    return rec.with_name(rec.name + ".ctl.json")


def load_endpoint(path: Path) -> dict:
    try:
        st = path.stat()
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the endpoint file ({exc.strerror or exc})") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"{path}: endpoint file is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                        "refusing to use its token")
    try:
        ep = json.loads(text)
        if not isinstance(ep, dict) or "token" not in ep:
            raise ValueError("no token")
    except ValueError as exc:
        raise UserError(f"{path}: not a control endpoint file ({exc})") from exc
    return ep


def _pathway(text: str, what: str = "intensity") -> int:
    m = re.fullmatch(r"[Ss]?(\d+)", text)
    if not m or int(m.group(1)) < 1:
        raise UserError(f"{what}: pathway {text!r} is not S1, S2, … (or 1, 2, …)")
    return int(m.group(1)) - 1


def _set_windows(args: argparse.Namespace) -> dict:
    from rig.detector.windows import MAX_WINDOW_MS, WINDOW_NAMES

    if len(args.args) != 3:
        raise UserError("set-windows: give WINDOW START_MS END_MS, e.g. rig ctl set-windows slope 3.2 4.4")
    name = args.args[0]
    if name not in WINDOW_NAMES:
        raise UserError(f"set-windows: window {name!r} is not one of {', '.join(WINDOW_NAMES)}")
    try:
        a, b = float(args.args[1]), float(args.args[2])
    except ValueError:
        raise UserError(f"set-windows: {args.args[1]!r} {args.args[2]!r}: START_MS and END_MS must be "
                        "numbers") from None
    if not (math.isfinite(a) and math.isfinite(b) and a < b and max(abs(a), abs(b)) <= MAX_WINDOW_MS):
        raise UserError(f"set-windows: {name} {a:g}–{b:g} ms: need finite START_MS < END_MS within "
                        f"±{MAX_WINDOW_MS:g} ms of the pulse")
    req = {"cmd": "set_windows", "data": {"window": name, "new_ms": [a, b]}}
    if args.pathway is not None:
        req["pathway"] = _pathway(args.pathway, "--pathway")
    return req


def build_request(args: argparse.Namespace) -> dict:
    a = args.action
    if a == "mark":
        if not args.args:
            raise UserError('mark: give the text, e.g. rig ctl mark "washout started"')
        return {"cmd": "mark", "text": " ".join(args.args)}
    if a == "intensity":
        if len(args.args) != 2:
            raise UserError("intensity: give PATHWAY and DELTA_UA, e.g. rig ctl intensity S1 +10")
        try:
            delta = float(args.args[1])
        except ValueError:
            raise UserError(f"intensity: {args.args[1]!r} is not a number of µA") from None
        if not math.isfinite(delta) or abs(delta) > 10_000:
            raise UserError(f"intensity: DELTA_UA {args.args[1]!r} must be a finite number in [-10000, 10000] µA")
        return {"cmd": "intensity", "pathway": _pathway(args.args[0]), "delta_uA": delta}
    if a == "set-windows":
        return _set_windows(args)
    if args.pathway is not None:
        raise UserError(f"{a}: --pathway is for set-windows")
    if args.args:
        raise UserError(f"{a}: takes no arguments")
    if a == "extend-baseline":
        if not 0 < args.minutes <= 24 * 60:
            raise UserError(f"--minutes: {args.minutes} outside (0, 1440]")
        return {"cmd": "extend_baseline", "data": {"seconds": args.minutes * 60.0}}
    return {"cmd": a.replace("-", "_")}


def run(args: argparse.Namespace) -> int:
    from rig.experiment.control_server import request

    req = build_request(args)
    path = site_endpoint(args.site, args.index) if args.site else find_endpoint(args.endpoint)
    ep = load_endpoint(path)
    try:
        reply = request(ep, {**req, "token": ep["token"]})
    except (OSError, ValueError) as exc:
        raise RunFailure(f"cannot reach the run at {path} ({exc}); is it still running?") from exc
    if args.json:
        print(json.dumps(reply))
    if not reply.get("ok"):
        if not args.json:
            print(f"rig: refused: {reply.get('error', '?')}", file=sys.stderr)
        return 2
    if not args.json:
        if "status" in reply:
            for k, v in reply["status"].items():
                print(f"{k:22s} {v}")
        else:
            print(f"rig: {reply.get('queued')} sent", file=sys.stderr)
    return 0
