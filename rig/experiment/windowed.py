"""Running an experiment with the window open (``rig run`` without ``--no-gui``).

The engine runs on its worker thread exactly as headless (:func:`rig.experiment.runner.run_experiment`);
the main thread owns the signals and the Qt event loop. The window only *adds* a subscriber (a
:class:`~rig.display.feed.DisplayFeed`, which never blocks) — a frozen or closed window cannot
slow acquisition or storage.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rig.core.commands import Command, make_command_queue

if TYPE_CHECKING:
    from rig.display.window import RigWindow
    from rig.experiment.runner import RunOptions, RunResult


def display_available() -> bool:
    """True when a window can be shown (an X11/Wayland display, macOS/Windows, or an explicit
    ``QT_QPA_PLATFORM`` such as ``offscreen``)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def ensure_app(offscreen: bool = False):
    """The QApplication (created once; ``offscreen`` renders without a display)."""
    if offscreen and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "rig"])
    return app


class _StopFlag:
    """Command listener: a ``stop`` command also sets the engine's stop flag at once."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, command: Command) -> None:
        if command.cmd == "stop":
            self.event.set()


def run_with_window(opts: RunOptions, *, screenshot: Path | None = None,
                    screenshot_at_s: float | None = None, theme: str = "dark",
                    on_tick: Callable[[], None] | None = None,
                    on_window: Callable[[RigWindow], None] | None = None,
                    close_on_stop: bool | None = None,
                    ) -> tuple[RunResult | None, BaseException | None, int | None]:
    """Run ``opts`` with the live window; same return as :func:`rig.experiment.runner.run_in_thread`.

    ``screenshot``: PNG saved at experiment time ``screenshot_at_s`` s (or at the end); without a
    display it renders offscreen. ``on_tick`` runs on the main thread ~100×/s (progress bar);
    ``on_window(win)`` is called once the window exists (tests). The window closes by itself at
    the end when offscreen or taking a screenshot (``close_on_stop``), else it stays open for
    the operator. A ``stop`` from the window sets the engine's stop flag; every command is also
    put on the command queue (``opts.commands`` when the runner has it) for the controller.
    """

    from rig.display.feed import DisplayFeed
    from rig.display.window import RigWindow
    from rig.experiment.runner import EngineThread, default_out_path, prepare
    from rig.storage import unique_path

    app = ensure_app(offscreen=screenshot is not None and not display_available())
    plan, rig = prepare(opts)[:2]  # validates before anything is shown or armed (raises UserError)
    if opts.out is None:
        opts.out = unique_path(default_out_path(plan))
    feed = DisplayFeed()
    commands = make_command_queue()
    if hasattr(opts, "commands"):
        opts.commands = commands
    opts.subscribers = [*opts.subscribers, feed]
    stop = threading.Event()
    engine = EngineThread(opts, stop)
    done = threading.Event()
    offscreen = app.platformName() == "offscreen"
    if close_on_stop is None:
        close_on_stop = offscreen or screenshot is not None
    win = RigWindow(feed, commands, plan=plan, out_path=str(opts.out), theme=theme,
                    engine_done=done.is_set, close_on_stop=close_on_stop,
                    title=f"LTP Rig — {plan.name}")
    win.command_listeners.append(_StopFlag(stop))
    if rig.mea is not None:  # MEA mode: the LTP map beside the plots, fed by its own subscriber
        from rig.display import ltp_map

        map_feed = ltp_map.LtpMapFeed()
        opts.subscribers = [*opts.subscribers, map_feed]
        win.ltp_map = ltp_map.attach(win, rig.mea_layout(), map_feed)

    def finished() -> None:
        done.set()
        if getattr(win, "ltp_map", None) is not None:
            win.ltp_map.tick()  # its last documents, before the final screenshot

    signum = drive_window(app, win, engine, stop, screenshot=screenshot, screenshot_at_s=screenshot_at_s,
                          on_window=on_window, on_tick=on_tick, close_on_stop=close_on_stop, on_done=finished,
                          time_label="experiment time")
    return engine.result, engine.error, signum


def drive_window(app, win, worker: threading.Thread, stop: threading.Event, *, screenshot: Path | None,
                 screenshot_at_s: float | None, on_window: Callable | None, on_tick: Callable | None,
                 close_on_stop: bool, on_done: Callable[[], None] | None = None,
                 time_label: str = "experiment time") -> int | None:
    """Show ``win``, run ``worker`` (the run) while the GUI keeps drawing, then the last tick (and
    screenshot), and close; SIGINT/SIGTERM set ``stop``. Returns the signal that stopped it, or None.
    ``on_done``: called once the worker has ended, before the last tick."""
    from PySide6 import QtCore

    from rig.experiment.runner import StopOnSignals

    if screenshot is not None:
        win.schedule_screenshot(screenshot, screenshot_at_s)
    win.show()
    if on_window is not None:
        on_window(win)
    with StopOnSignals(stop) as sig:
        worker.start()
        while worker.is_alive():
            worker.join(0.01)
            app.processEvents(QtCore.QEventLoop.AllEvents, 30)
            if on_tick is not None:
                on_tick()
        if on_done is not None:
            on_done()
        win.tick()  # the last documents, the final screenshot
        if not close_on_stop and win.isVisible():
            app.exec()  # the run is over; the operator closes the window
    if win.screenshot is not None:
        print(f"rig: screenshot saved to {win.screenshot} (at {win.screenshot_taken_at_s:.0f} s {time_label})",
              file=sys.stderr)
    win.force_close()
    win.deleteLater()
    app.processEvents()
    return sig.signum


def open_viewer(path: Path, *, sweep: int | None = None, theme: str = "dark",
                offscreen: bool = False, refresh_s: float = 2.0) -> RigWindow:
    """The read-only window on a recording, with sweep browsing (``rig view``).

    A recording still being written is re-read every ``refresh_s`` s (SWMR) and grows on
    screen. The window owns the open file (closed with the window)."""
    import numpy as np
    from PySide6 import QtCore

    from rig.display import ltp_map
    from rig.display.cursor import TimeCourseCursor
    from rig.display.model import DisplayModel
    from rig.display.viewer import RecordingSource
    from rig.display.window import RigWindow
    from rig.storage import mea as mea_store
    from rig.storage import open_recording

    rec = open_recording(path)  # UserError when it is not a recording
    app = ensure_app(offscreen=offscreen)
    model = DisplayModel()
    source = RecordingSource(rec, model)
    win = RigWindow(None, None, read_only=True, model=model, theme=theme, out_path=str(path),
                    title=f"LTP Rig — {Path(path).name} (read-only)")
    win.source = source

    def show(i: int) -> None:
        if 0 <= i < rec.n_sweeps:
            source.show_sweep(i)
            win.redraw()
            win.message.setText(source.describe(i))
            win.cursor.show_sweep(int(rec.sweep_table[i]["index"]))

    def pick(sweep: int) -> None:  # a clicked time-course point: its sweep in the browser
        rows = np.flatnonzero(rec.sweep_table["index"] == sweep)
        if rows.size:
            win.sweep_box.setValue(int(rows[0]))

    win.cursor = TimeCourseCursor(win.tc_widget.getPlotItem(), model, lambda: win.time_course.field, pick)

    def refresh() -> None:
        at_end = win.sweep_box.value() >= win.sweep_box.maximum()
        if source.refresh():
            win.sweep_box.setMaximum(max(0, rec.n_sweeps - 1))
            if at_end:  # following the newest sweep
                win.sweep_box.setValue(win.sweep_box.maximum())
            win.redraw()
            if getattr(win, "ltp_map", None) is not None:  # a live MEA recording: the map grows too
                win.ltp_map.model = viewer_map_model(rec, mea_store.read(rec))
                win.ltp_map.redraw()
        if rec.complete:
            win.refresh_timer.stop()

    win.sweep_box.setMaximum(max(0, rec.n_sweeps - 1))
    win.sweep_box.valueChanged.connect(show)
    win.refresh_timer = QtCore.QTimer(win)
    win.refresh_timer.setInterval(int(refresh_s * 1000))
    win.refresh_timer.timeout.connect(refresh)
    if not rec.complete:
        win.refresh_timer.start()
    first = rec.n_sweeps - 1 if sweep is None else sweep
    win.redraw()
    if rec.n_sweeps:
        win.sweep_box.setValue(first)
        show(first)  # also when first == 0 (no valueChanged)
    mea = mea_store.read(rec)
    if mea is not None:  # MEA recording: its LTP map, as the run showed it at the end
        win.ltp_map = ltp_map.attach(win, mea.layout, model=viewer_map_model(rec, mea))
    win.destroyed.connect(rec.close)
    del app
    return win


def viewer_map_model(rec, mea):
    """The LTP map model of a recording (every sweep's MEA rows, its phases, ended when complete)."""
    from rig.core.documents import PhaseStart, RunStart, RunStop
    from rig.display.ltp_map_model import LtpMapModel
    from rig.storage import mea as mea_store

    model = LtpMapModel(mea.layout)
    model.apply(RunStart(rec.sample_rate_hz, (), (), (), "", 0, 0.0))
    for p in rec.phases:
        model.apply(PhaseStart(p["index"], p["name"], p["kind"], p["start_sample"]))
    for d in mea_store.measured_docs(rec, mea):
        model.apply(d)
    if rec.complete:
        model.apply(RunStop(int(rec.status["samples"]), rec.status["stop_reason"].decode()))
    return model
