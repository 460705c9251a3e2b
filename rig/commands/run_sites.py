"""`rig run` / `rig check` on a multi-slice rig (a rig file with ``[[site]]`` entries).

``rig run [PROTOCOL] --rig RIG [--site NAME=PROTOCOL ...]`` (PROTOCOL: for every site without
its own ``--site``); the positional may also be the rig file itself: ``rig run RIG --site A=…``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path

from rig.core.errors import RunFailure, UserError
from rig.protocol.rigfile import RigConfig, load_rig


def _has_sites(path: Path) -> bool:
    try:
        return "site" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return False


def multisite(args: argparse.Namespace) -> tuple[RigConfig, str, Path, Path | None] | None:
    """(rig, its text, its path, the default protocol) when the run is a multi-site one, else None."""
    protocol, rig_path = args.protocol, args.rig
    if protocol is not None and rig_path is None and _has_sites(protocol):
        rig_path, protocol = protocol, None
    if rig_path is None:
        if args.site:
            raise UserError("--site: needs a rig file with [[site]] entries (--rig RIG)")
        return None
    try:
        rig, text = load_rig(rig_path)
    except UserError:
        if args.site:
            raise
        return None  # the single-slice path reports the rig file's problems as always
    if not rig.site:
        if args.site:
            raise UserError(f"--site: {rig_path} has no [[site]] entries (docs/multi-site.md)")
        return None
    if getattr(args, "sim", False) and rig.backend != "sim":
        rig = rig.model_copy(update={"backend": "sim"})
    return rig, text, rig_path, protocol


def check_sites(args: argparse.Namespace, found: tuple) -> int:
    """`rig check` of every site's protocol on its site, and of the guard between sites."""
    from rig.experiment.sites_run import parse_site_args, prepare_sites
    from rig.protocol.plan_summary import format_plan, plan_summary

    rig, _, rig_path, default = found
    try:
        sites, il = prepare_sites(rig, parse_site_args(rig, args.site, default), rig_name=str(rig_path))
    except UserError as exc:
        if args.json:
            print(json.dumps({"valid": False, "errors": [{"path": "", "message": str(exc), "file": str(rig_path),
                                                          "line": None}]}))
        for line in exc.lines() if hasattr(exc, "lines") else str(exc).splitlines():
            print(line, file=sys.stderr)
        return 2
    fs = rig.sample_rate_hz
    doc = {"valid": True, "errors": [], "rig": str(rig_path), "site_guard_s": rig.site_guard_s,
           "closest_approach_s": il.closest_s, "gated_sites": list(il.gated),
           "sites": [{**plan_summary(s.plan, s.rig), "site": s.name, "protocol": str(s.protocol_path),
                      "offset_s": s.offset / fs, "offset_samples": s.offset} for s in sites]}
    if args.json:
        print(json.dumps(doc))
        return 0
    out = [f"{rig_path}: {len(sites)} sites, stimuli of different sites ≥ {rig.site_guard_s:g} s apart "
           f"(closest {il.closest_s if il.closest_s is not None else '—'} s)"]
    if il.gated:
        out.append(f"note: gated baselines ({', '.join(il.gated)}) may move later stimuli; the offsets are chosen "
                   "on the planned timing and the guard is kept again at run time (docs/multi-site.md)")
    for s, d in zip(sites, doc["sites"], strict=True):
        out += ["", f"== site {s.name}: {s.protocol_path}, starts at +{d['offset_s']:g} s",
                format_plan(plan_summary(s.plan, s.rig))]
    print("\n".join(out))
    return 0


def run_sites_cmd(args: argparse.Namespace, found: tuple, speed: float | None) -> int:
    """`rig run` of a multi-site rig: one file per site and the run index; the grid window of
    sites (:mod:`rig.display.sites_grid`) when a display is available, else headless with one
    status line."""
    from rig.display.sites_status import SiteStatus
    from rig.experiment.runner import StopOnSignals
    from rig.experiment.sites_options import site_faults, site_panels
    from rig.experiment.sites_run import parse_site_args, run_sites

    rig, text, rig_path, default = found
    protocols = parse_site_args(rig, args.site, default)
    faults, panels = site_faults(rig, args.sim_fault), site_panels(rig, args.panel)
    status = {s.name: SiteStatus() for s in rig.site}
    kw = dict(out=args.out, seed=args.seed, speed=speed, meta=args.meta, windows=args.window, fsync=args.fsync,
              observers={n: [b] for n, b in status.items()}, faults=faults, panels=panels)
    window = None if args.no_gui else _window_or_why(args)
    if window is None:
        if args.screenshot is not None:
            raise UserError("--screenshot: needs the window; drop --no-gui")
        import threading

        tick = SitesProgress(status)
        stop = threading.Event()
        with StopOnSignals(stop) as sig:
            res = run_sites(rig, text, rig_path, protocols, stop=stop, on_tick=tick, **kw)
        tick(final=True)
        signum = sig.signum
    else:
        from rig.experiment.sites_windowed import run_sites_with_window

        res, signum = run_sites_with_window(rig, text, rig_path, protocols, screenshot=args.screenshot,
                                            screenshot_at_s=args.screenshot_at, **kw)
    return _report(args, res, signum, speed)


def _window_or_why(args: argparse.Namespace) -> bool | None:
    """True when the grid window can open; None (and why, on stderr) when the run goes headless."""
    from rig.experiment.qt_preflight import window_problem
    from rig.experiment.runner import eprint
    from rig.experiment.windowed import display_available

    if args.screenshot is not None:
        if args.screenshot.suffix.lower() != ".png":
            raise UserError(f"--screenshot: {args.screenshot} must end in .png")
        if not args.screenshot.parent.exists():
            raise UserError(f"--screenshot: directory {args.screenshot.parent} does not exist")
    if args.screenshot_at is not None and (args.screenshot is None or args.screenshot_at < 0):
        raise UserError("--screenshot-at: needs --screenshot and a time ≥ 0 s")
    problem = window_problem() if display_available() else None
    if problem is not None and args.screenshot is not None:
        eprint(f"rig: {problem}; rendering the screenshot offscreen")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return True
    if problem is not None:
        eprint(f"rig: {problem}; running headless with one status line per run")
        return None
    if display_available() or args.screenshot is not None:
        if not display_available():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return True
    eprint("rig: no display available; running headless (--no-gui to silence)")
    return None


def _report(args: argparse.Namespace, res, signum: int | None, speed: float | None) -> int:
    from drivers.sites import BoardStarved
    from rig.analysis.site_summary import format_index_summary, summarize_index
    from rig.experiment.runner import eprint

    s = summarize_index(res.index)
    s["wall_s"] = res.wall_s
    print(json.dumps(s) if args.json else format_index_summary(s))
    eprint(f"rig: run index written to {res.index}")
    if signum is not None:
        return 130
    bad = [o for o in res.sites if o.reason != "completed"]
    if isinstance(res.board_error, BoardStarved):
        pace = "max" if speed is None else f"{speed:g}"
        eprint(f"rig: every site stopped, its complete sweeps kept: {res.board_error}. At --speed {pace} this "
               "machine cannot keep up now (is it loaded? see uptime): use a lower --speed, or --speed max "
               "(a simulation that is not paced loses nothing)")
    for o in bad:
        eprint(f"rig: site {o.name}: {o.reason}{': ' + o.message if o.message else ''}")
    if any(o.error is not None and not isinstance(o.error, (UserError, RunFailure)) for o in bad):
        return 1
    return 0 if not bad else 1


class SitesProgress:
    """One status line on a terminal: each site's state and share of its plan
    (``A 35% 12 sw  B PAUSED 20% 8 sw  C STOPPED BY ALARM 40% 15 sw``)."""

    def __init__(self, status: dict) -> None:
        self.status = status
        self._last = 0.0
        self.tty = sys.stderr.isatty()

    def line(self) -> str:
        return "  ".join(st.line(n) for n, st in self.status.items())

    def __call__(self, final: bool = False) -> None:
        import time

        now = time.perf_counter()
        if not self.tty or (not final and now - self._last < 0.5):
            return
        self._last = now
        sys.stderr.write("\r" + self.line() + "\x1b[K" + ("\n" if final else ""))
        sys.stderr.flush()
