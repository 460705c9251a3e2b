"""`rig view FILE`: open a finished or in-progress recording in the rig window, read-only."""

from __future__ import annotations

import argparse
from pathlib import Path

from rig.core.errors import RunFailure, UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="open a recording in the rig window (read-only, sweep browsing)")
    p.add_argument("file", type=Path, help="recording (HDF5), finished or still being written")
    p.add_argument("--sweep", type=int, default=None, help="sweep to show first (default: the last)")
    p.add_argument("--theme", choices=("dark", "light"), default="dark")
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png",
                   help="save a PNG of the window and exit (rendered offscreen without a display)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rig.display.window import save_screenshot
    from rig.experiment.windowed import display_available, ensure_app, open_viewer

    if args.screenshot is not None:
        if args.screenshot.suffix.lower() != ".png":
            raise UserError(f"--screenshot: {args.screenshot} must end in .png")
        if not args.screenshot.parent.exists():
            raise UserError(f"--screenshot: directory {args.screenshot.parent} does not exist")
    elif not display_available():
        raise RunFailure("no display available; use --screenshot FILE.png to render offscreen")
    else:
        from rig.experiment.qt_preflight import window_problem

        problem = window_problem()
        if problem is not None:
            raise RunFailure(f"{problem}; use --screenshot FILE.png to render offscreen")
    win = open_viewer(args.file, sweep=None, theme=args.theme,
                      offscreen=args.screenshot is not None and not display_available())
    n = win.source.rec.n_sweeps
    if args.sweep is not None:
        if not 0 <= args.sweep < max(n, 1):
            win.close()
            raise UserError(f"--sweep: {args.sweep} outside 0..{max(n - 1, 0)} ({args.file})")
        win.sweep_box.setValue(args.sweep)
    win.show()
    app = ensure_app()
    if args.screenshot is not None:
        path = save_screenshot(win, args.screenshot)
        print(f"rig: screenshot saved to {path}", file=__import__("sys").stderr)
        win.close()
        win.deleteLater()
        app.processEvents()
        return 0
    app.exec()
    return 0
