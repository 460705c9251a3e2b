"""`rig run PROTOCOL`: run an experiment (simulated slice unless the rig file names hardware)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path

from rig.analysis.summary import format_summary, summarize
from rig.core.errors import RunFailure, UserError
from rig.experiment.progress import ProgressBar
from rig.experiment.runner import RunOptions, eprint, run_in_thread
from rig.storage import open_recording


def parse_speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"--speed: {text!r} is not a number or 'max'") from None
    if not 0 < v <= 1e6:
        raise UserError(f"--speed: {v} outside (0, 1e6]; use 'max' for as fast as possible")
    return v


def check_out_path(out: Path) -> None:
    """``--out`` names a new file in a writable folder (UserError, one line, before anything runs)."""
    if out.is_symlink():
        raise UserError(f"--out: {out} is a symbolic link (to {os.readlink(out)}); a recording is never written "
                        "through one (choose another name)")
    if out.exists():
        raise UserError(f"--out: {out} exists; a recording is never overwritten (choose another name)")
    parent = out.parent
    if not parent.exists():
        raise UserError(f"--out: directory {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"--out: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out: cannot write in directory {parent} (permission denied)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an experiment")
    p.add_argument("protocol", type=Path, nargs="?", default=None,
                   help="protocol file (TOML); multi-site: the protocol of every site without --site (or the rig file)")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--site", action="append", default=[], metavar="NAME=PROTOCOL",
                   help="multi-site rig: the protocol of site NAME (repeatable; docs/multi-site.md)")
    p.add_argument("--sim", action="store_true", help="use the simulated slice (the default without hardware)")
    p.add_argument("--speed", default="1", help="simulation speed: 1 = real time, N = N× faster, max")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (deterministic)")
    p.add_argument("--out", type=Path, default=None, help="output HDF5 file (never overwritten)")
    p.add_argument("--no-gui", action="store_true", help="headless: progress bar instead of the window")
    p.add_argument("--json", action="store_true", help="print the result summary as JSON on stdout")
    p.add_argument("--window", action="append", default=[], metavar="NAME=START_MS:END_MS",
                   help="override a detector window for this run, e.g. slope=2.8:4.2 (repeatable)")
    p.add_argument("--sim-fault", action="append", default=[], metavar="NAME@MIN",
                   help="simulated fault at minute MIN (repeatable): slice-death@45min (response fades), "
                        "noise@30min (250 µV RMS noise), electrode-shift@50min (volley and fEPSP step "
                        "down), gain_knob@MIN (amplifier gain knob turned), range_x10@MIN (isolator range "
                        "switch to ×10)")
    p.add_argument("--panel", action="append", default=[], metavar="PATHWAY=UA:US",
                   help="front-panel current:width of a TTL-only isolator, e.g. S1=200:100 (repeatable)")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="recording metadata, e.g. animal=M12 slice=3 genotype=Fmr1-KO (repeatable; "
                        "overrides the protocol's [metadata])")
    p.add_argument("--average", type=int, default=None, metavar="N",
                   help="also measure the average of every N consecutive test sweeps of each pathway "
                        "(stored as average_measured events; overrides the protocol's [analysis] average)")
    p.add_argument("--fsync", action="store_true", help="fsync after every sweep (power-loss safety)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png",
                   help="save a PNG of the window (rendered offscreen without a display)")
    p.add_argument("--screenshot-at", type=float, default=None, metavar="SECONDS",
                   help="experiment time of the screenshot (default: the end of the run)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    speed = parse_speed(args.speed)
    if args.seed < 0:
        raise UserError(f"--seed: {args.seed} must be ≥ 0")
    if args.out is not None:
        check_out_path(args.out)
    from rig.commands.run_sites import multisite, run_sites_cmd

    found = multisite(args)
    if found is not None:
        return run_sites_cmd(args, found, speed)
    if args.protocol is None:
        raise UserError("rig run: the protocol is missing: give PROTOCOL (or --rig RIG --site NAME=PROTOCOL "
                        "on a multi-site rig)")
    bar = ProgressBar()
    # --sim with a rig file: that rig's wiring and limits, on the simulated device
    opts = RunOptions(protocol=args.protocol, rig=args.rig, out=args.out, seed=args.seed, speed=speed,
                      subscribers=[bar], fsync=args.fsync, keys=args.no_gui, force_sim=args.sim,
                      windows=args.window, sim_faults=args.sim_fault, panel=args.panel, meta=args.meta,
                      average=args.average)
    result, error, signum = _run_gui_or_headless(args, opts, bar)
    with LateSignals():  # the run is over: a signal now does not change its outcome (or exit code)
        return _report(args, bar, result, error, signum)


class LateSignals:
    """SIGINT/SIGTERM while the outcome of a finished run is reported: noted, never raised."""

    def __enter__(self) -> LateSignals:
        self._old = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, lambda *_: None)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def _report(args: argparse.Namespace, bar: ProgressBar, result, error, signum) -> int:
    bar.draw(final=True)
    if error is not None:
        if isinstance(error, (UserError, RunFailure)):
            raise error
        kept = "recorded sweeps kept" if args.out is None or args.out.exists() else "nothing was recorded"
        raise RunFailure(f"{type(error).__name__}: {error} — outputs zeroed, {kept}") from error
    assert result is not None
    if result.stop.reason == "interrupted":
        name = signal.Signals(signum).name if signum else "stop"
        with open_recording(result.path) as rec:
            n = rec.n_sweeps
        eprint(f"rig: interrupted by {name}: outputs zeroed, {n} complete sweeps saved in {result.path}")
        return 130
    with open_recording(result.path) as rec:
        s = summarize(rec)
    s["wall_s"] = result.wall_s
    print(json.dumps(s) if args.json else format_summary(s))
    eprint(f"rig: recording written to {result.path}")
    if result.stop.reason != "completed":  # aborted (a "stop" alarm, an unstable baseline) or incomplete
        eprint(f"rig: run {result.stop.reason}, not completed: {result.stop.message or 'see the events'}; "
               f"outputs zeroed, {s['sweeps']} sweeps kept")
        return 1
    return 0


def _run_gui_or_headless(args: argparse.Namespace, opts: RunOptions, bar: ProgressBar):
    """The window when a display is available (or a screenshot is asked for), else headless."""
    if args.screenshot is not None:
        if args.no_gui:
            raise UserError("--screenshot: needs the window; drop --no-gui")
        if args.screenshot.suffix.lower() != ".png":
            raise UserError(f"--screenshot: {args.screenshot} must end in .png")
        if not args.screenshot.parent.exists():
            raise UserError(f"--screenshot: directory {args.screenshot.parent} does not exist")
    if args.screenshot_at is not None and (args.screenshot is None or args.screenshot_at < 0):
        raise UserError("--screenshot-at: needs --screenshot and a time ≥ 0 s")
    if not args.no_gui:
        from rig.experiment.qt_preflight import window_problem
        from rig.experiment.windowed import display_available, run_with_window

        problem = window_problem() if display_available() else None
        if problem is not None and args.screenshot is not None:
            eprint(f"rig: {problem}; rendering the screenshot offscreen")
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        elif problem is not None:
            eprint(f"rig: {problem}; running headless with the progress bar and the terminal keys")
            opts.keys = True
            return run_in_thread(opts, on_tick=bar.draw)
        if display_available() or args.screenshot is not None:
            return run_with_window(opts, screenshot=args.screenshot,
                                   screenshot_at_s=args.screenshot_at, on_tick=bar.draw)
        eprint("rig: no display available; running headless with a progress bar (--no-gui to silence)")
        opts.keys = True
    return run_in_thread(opts, on_tick=bar.draw)
