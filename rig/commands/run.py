"""`rig run PROTOCOL`: run an experiment (simulated slice unless the rig file names hardware)."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from rig.errors import RunFailure, UserError
from rig.progress import ProgressBar
from rig.runner import RunOptions, eprint, run_in_thread
from rig.storage import open_recording
from rig.summary import format_summary, summarize


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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an experiment")
    p.add_argument("protocol", type=Path, help="protocol file (TOML)")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--sim", action="store_true", help="use the simulated slice (the default without hardware)")
    p.add_argument("--speed", default="1", help="simulation speed: 1 = real time, N = N× faster, max")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (deterministic)")
    p.add_argument("--out", type=Path, default=None, help="output HDF5 file (never overwritten)")
    p.add_argument("--no-gui", action="store_true", help="headless: progress bar instead of the window")
    p.add_argument("--json", action="store_true", help="print the result summary as JSON on stdout")
    p.add_argument("--fsync", action="store_true", help="fsync after every sweep (power-loss safety)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    speed = parse_speed(args.speed)
    if args.seed < 0:
        raise UserError(f"--seed: {args.seed} must be ≥ 0")
    if args.out is not None and args.out.exists():
        raise UserError(f"--out: {args.out} exists; a recording is never overwritten (choose another name)")
    if args.out is not None and not args.out.parent.exists():
        raise UserError(f"--out: directory {args.out.parent} does not exist")
    rig_path = None if args.sim else args.rig
    if args.sim and args.rig:
        rig_path = args.rig  # --sim with a rig file: the rig's wiring and limits, simulated device
    bar = ProgressBar()
    opts = RunOptions(protocol=args.protocol, rig=rig_path, out=args.out, seed=args.seed, speed=speed,
                      subscribers=[bar], fsync=args.fsync)
    if not args.no_gui:
        eprint("rig: no display window in this build or no display available; running headless")
    result, error, signum = run_in_thread(opts, on_tick=bar.draw)
    bar.draw(final=True)
    if error is not None:
        if isinstance(error, (UserError, RunFailure)):
            raise error
        raise RunFailure(f"{type(error).__name__}: {error} — outputs zeroed, recorded sweeps kept") from error
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
    return 0 if result.stop.reason == "completed" else 1
