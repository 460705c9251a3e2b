"""A multi-site run with the grid window open (``rig run --rig RIG --site …`` with a display).

The sites run on a worker thread exactly as headless (:func:`rig.experiment.sites_run.run_sites`);
the main thread owns the signals and the Qt event loop. The window only adds one observer per
site (a non-blocking :class:`~rig.display.feed.DisplayFeed`) and one command queue per site (its
controller drains it, as it drains ``rig ctl --site``): a frozen window cannot slow a site.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from rig.core.commands import make_command_queue
from rig.protocol.rigfile import RigConfig

#: state documents a site's feed holds for the window (≈ 100 B each): hours of backlog per site;
#: beyond it the window skips documents (counted), the recording loses nothing
FEED_STATE = 50_000


def run_sites_with_window(rig: RigConfig, rig_text: str, rig_path: Path | None, protocols: dict[str, Path], *,
                          screenshot: Path | None = None, screenshot_at_s: float | None = None,
                          theme: str = "dark", on_window: Callable | None = None, close_on_stop: bool | None = None,
                          on_tick: Callable[[], None] | None = None, **kw) -> tuple:
    """Run every site with the grid window; returns (SitesResult, signal number or None).
    ``kw``: :func:`~rig.experiment.sites_run.run_sites` options (``observers`` are kept)."""

    from rig.display.feed import DisplayFeed
    from rig.display.sites_grid import SitesWindow
    from rig.experiment.sites_run import prepare_sites, run_sites
    from rig.experiment.windowed import display_available, drive_window, ensure_app

    app = ensure_app(offscreen=screenshot is not None and not display_available())
    sites, _ = prepare_sites(rig, protocols, kw.get("meta", ()), str(rig_path or "rig file"))  # before any window
    feeds = {s.name: DisplayFeed(max_state=FEED_STATE) for s in sites}
    commands = {s.name: make_command_queue() for s in sites}
    given = kw.pop("observers", None) or {}
    observers = {n: [*given.get(n, ()), f] for n, f in feeds.items()}
    stop = threading.Event()
    box: dict = {}

    def files(index: Path, paths: list[Path]) -> None:  # worker thread: plain attributes, read by the GUI
        win.index_path = str(index)
        for p, f in zip(win.panels, paths, strict=True):
            p.out_path = str(f)

    def work() -> None:
        try:
            box["result"] = run_sites(rig, rig_text, rig_path, protocols, stop=stop, commands=commands,
                                      observers=observers, on_files=files, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="rig-sites", daemon=True)
    offscreen = app.platformName() == "offscreen"
    if close_on_stop is None:
        close_on_stop = offscreen or screenshot is not None
    limits = rig.stim_limits()
    fs = rig.sample_rate_hz
    win = SitesWindow([{"name": s.name, "feed": feeds[s.name], "commands": commands[s.name], "plan": s.plan,
                        "offset_s": s.offset / fs} for s in sites],
                      title=f"LTP Rig — {len(sites)} sites ({Path(rig_path).name if rig_path else 'rig'})",
                      theme=theme, stop_all=stop.set, engine_done=lambda: not worker.is_alive(),
                      close_on_stop=close_on_stop, intensity_limits_uA=(0.0, limits.max_intensity_uA))
    signum = drive_window(app, win, worker, stop, screenshot=screenshot, screenshot_at_s=screenshot_at_s,
                          on_window=on_window, on_tick=on_tick, close_on_stop=close_on_stop, time_label="board time")
    if "error" in box:
        raise box["error"]
    return box["result"], signum
