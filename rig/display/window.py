"""The rig window (QMainWindow): plots, status area with large type, controls with shortcuts.

Threading: everything here runs in the GUI thread. Documents arrive through a
:class:`~rig.display.feed.DisplayFeed` that a QTimer polls at ``refresh_hz`` (≤ ~30 Hz), so there
is no cross-thread Qt signal at all (measured: a lambda connected to a signal emitted from a
worker thread runs in that worker under PySide6). Each tick applies every queued document to the
model, then redraws once (coalescing). Operator actions become :class:`~rig.core.commands.Command`
objects on the command queue; the controller executes and records them.

Shortcuts (also in the buttons' tooltips): P pause · R resume · Ctrl+Q stop (asks) ·
M mark · I induce now · B extend baseline · Up/Down intensity ± step on the selected pathway ·
1–9 select pathway · A slope/amplitude · T dark/light · Ctrl+R re-analyse ·
Left/Right previous/next sweep (viewer).
"""

from __future__ import annotations

import functools
import math
import queue
import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from rig.core.commands import Command
from rig.core.plan import Plan
from rig.display.actions import ACTIONS, LIVE_ONLY, WindowActions
from rig.display.courses import IOPanel, SideCourses
from rig.display.feed import DisplayFeed
from rig.display.header import StatusHeader
from rig.display.labels import ElidedLabel
from rig.display.model import DisplayModel
from rig.display.panels import (
    SweepPlot,
    TimeCoursePanel,
    detector_artifact_ms,
    detector_windows_ms,
)
from rig.display.status import status_text
from rig.display.theme import THEMES, Theme


class RigWindow(WindowActions, QtWidgets.QMainWindow):
    # Emitted (GUI thread → GUI thread) after each redraw with the number of frames drawn.
    frameDrawn = QtCore.Signal(int)  # noqa: N815 (Qt naming)

    """Live rig window (or, with ``read_only=True``, the viewer of a recording).

    ``feed``: documents from the engine (None for a viewer filled directly through ``model``);
    ``commands``: queue for operator :class:`Command` objects; ``plan``: for phase time left and
    the next-stimulus countdown (optional); ``out_path``: recording file shown with free disk;
    ``windows_ms``: initial detector windows, ms from stimulus; ``intensity_limits_uA``: the rig's
    (min, max) — intensity commands never ask to leave it; ``confirm(question) -> bool`` and
    ``ask_text(prompt) -> str | None`` replace the dialogs (tests, scripts); ``engine_done()``
    tells whether the engine has ended (even without a RunStop); ``close_on_stop`` closes the
    window once the run has ended and the last documents are drawn. ``refresh_hz`` is the
    maximal redraw rate; the timer slows down when the GUI thread uses more than
    ``cpu_budget`` of a core (see :meth:`_pace`).
    """

    def __init__(self, feed: DisplayFeed | None = None,
                 commands: queue.Queue | None = None, *,
                 plan: Plan | None = None, out_path: str | None = None, theme: str = "dark",
                 windows_ms: dict[str, tuple[float, float]] | None = None,
                 artifact_ms: tuple[float, float] | None = None,
                 n_average: int = 5, intensity_step_uA: float = 5.0,
                 intensity_limits_uA: tuple[float, float] = (0.0, math.inf),
                 read_only: bool = False, refresh_hz: float = 30.0, cpu_budget: float = 0.3,
                 model: DisplayModel | None = None,
                 confirm: Callable[[str], bool] | None = None,
                 ask_text: Callable[[str], str | None] | None = None,
                 engine_done: Callable[[], bool] | None = None,
                 close_on_stop: bool = False,
                 title: str = "LTP Rig") -> None:
        super().__init__()
        self.feed = feed
        self.commands = commands
        self.plan = plan
        self.out_path = out_path
        self.read_only = read_only
        self.model = model or DisplayModel(n_average=n_average)
        self.windows_ms = dict(windows_ms or detector_windows_ms())
        self.artifact_ms = artifact_ms or detector_artifact_ms()
        self.intensity_step_uA = intensity_step_uA
        self.intensity_limits_uA = intensity_limits_uA
        self.confirm = confirm or self._confirm_dialog
        self.ask_text = ask_text or self._text_dialog
        self.theme: Theme = THEMES[theme]
        self.selected_pathway = 0
        self.frames_drawn = 0
        self.windows_changed = False
        self._v_windows = 0
        self._v_reply = 0
        self.engine_done = engine_done
        # Called in the GUI thread with every command sent (e.g. to set the engine's stop flag
        # at once); the command still goes to the controller, which records it.
        self.command_listeners: list[Callable[[Command], None]] = []
        self.close_on_stop = close_on_stop
        self._finished = False
        self._shot_path: Path | None = None
        self._shot_at_s: float | None = None
        self.screenshot: Path | None = None
        self.screenshot_taken_at_s = math.nan
        self.setWindowTitle(title)
        self._build()
        self.apply_theme(theme)
        self.timer = QtCore.QTimer(self)
        self._base_interval_ms = max(1, int(1000 / refresh_hz))
        self.cpu_budget = cpu_budget
        self.gui_load = 0.0
        self._pace_mark = (time.perf_counter(), time.thread_time())
        self.timer.setInterval(self._base_interval_ms)
        self.timer.timeout.connect(self.tick)
        if feed is not None:
            self.timer.start()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        central = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        self.header = StatusHeader(on_close=self.force_close)
        self.status_labels = self.header.labels
        outer.addWidget(self.header)
        ack = QtGui.QAction("acknowledge alarm", self)
        ack.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key_Escape))
        ack.setShortcutContext(QtCore.Qt.WindowShortcut)
        ack.triggered.connect(self.header.acknowledge)
        self.addAction(ack)
        split = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        self.sweep_widget = pg.GraphicsLayoutWidget()
        self.sweep_plots: dict[int, SweepPlot] = {}
        left = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        left.addWidget(self.sweep_widget)
        self.io_widget = pg.PlotWidget()
        self.io_panel = IOPanel(self.io_widget.getPlotItem())
        self.io_widget.setVisible(False)
        left.addWidget(self.io_widget)
        self.io_widget.setMinimumHeight(220)  # never a thin strip
        self.left_split = left
        split.addWidget(left)
        right = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.tc_widget = pg.PlotWidget()
        self.time_course = TimeCoursePanel(self.tc_widget.getPlotItem())
        self.tc_widget.getPlotItem().getAxis("left").setWidth(60)
        right.addWidget(self.tc_widget)
        self.side_widget = pg.GraphicsLayoutWidget()
        volley, ppr = self.side_widget.addPlot(row=0, col=0), self.side_widget.addPlot(row=1, col=0)
        for p in (volley, ppr):
            p.setXLink(self.tc_widget.getPlotItem())
        self.side_courses = SideCourses(volley, ppr, self._show_ppr)
        ppr.setVisible(False)
        right.addWidget(self.side_widget)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        outer.addWidget(split, stretch=1)
        outer.addWidget(self._build_controls())
        self.setCentralWidget(central)
        self.resize(1600, 950)

    def _build_controls(self) -> QtWidgets.QWidget:
        w = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(w)
        row.setContentsMargins(4, 2, 4, 2)
        self.actions: dict[str, QtGui.QAction] = {}
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        for name, text, key, tip in ACTIONS:
            if self.read_only and name in LIVE_ONLY:
                continue
            act = QtGui.QAction(text, self)
            act.setShortcut(QtGui.QKeySequence(key))
            act.setShortcutContext(QtCore.Qt.WindowShortcut)
            act.setToolTip(f"{tip}  [{key}]")
            act.triggered.connect(getattr(self, f"_act_{name}"))
            self.addAction(act)
            self.actions[name] = act
            b = QtWidgets.QToolButton()
            b.setDefaultAction(act)
            b.setFocusPolicy(QtCore.Qt.NoFocus)
            f = b.font()
            f.setPointSize(12)
            b.setFont(f)
            row.addWidget(b)
            self.buttons[name] = b
            if name == "intensity_up":
                self.pathway_box = QtWidgets.QComboBox()
                self.pathway_box.setFocusPolicy(QtCore.Qt.NoFocus)
                self.pathway_box.currentIndexChanged.connect(self._on_pathway_box)
                row.insertWidget(row.count() - 1, self.pathway_box)
                self.step_box = QtWidgets.QDoubleSpinBox()
                self.step_box.setFocusPolicy(QtCore.Qt.NoFocus)
                self.step_box.setRange(0.5, 100.0)
                self.step_box.setValue(self.intensity_step_uA)
                self.step_box.setSuffix(" µA")
                self.step_box.valueChanged.connect(self._on_step_box)
                row.insertWidget(row.count() - 1, self.step_box)
        for i in range(1, 10):
            act = QtGui.QAction(f"pathway {i}", self)
            act.setShortcut(QtGui.QKeySequence(str(i)))
            act.triggered.connect(self._select_pathway_action(i - 1))
            self.addAction(act)
        if self.read_only:
            row.addWidget(self._build_browser())
        row.addStretch(1)
        self.message = ElidedLabel()  # a 300-character message never widens the window
        row.addWidget(self.message, 1)
        return w

    def _build_browser(self) -> QtWidgets.QWidget:
        """Sweep browser of the viewer: spin box + Left/Right shortcuts."""
        w = QtWidgets.QWidget()
        lay = QtWidgets.QHBoxLayout(w)
        lay.addWidget(QtWidgets.QLabel("sweep"))
        self.sweep_box = QtWidgets.QSpinBox()
        self.sweep_box.setRange(0, 0)
        lay.addWidget(self.sweep_box)
        for key, step in (("Left", -1), ("Right", +1), ("PgDown", -10), ("PgUp", +10)):
            act = QtGui.QAction(key, self)
            act.setShortcut(QtGui.QKeySequence(key))
            act.triggered.connect(self._browse_action(step))
            self.addAction(act)
        return w

    def _browse_action(self, step: int) -> Callable[[], None]:
        def go() -> None:
            self.sweep_box.setValue(self.sweep_box.value() + step)
        return go

    def _select_pathway_action(self, pos: int) -> Callable[[], None]:
        def select() -> None:
            box = getattr(self, "pathway_box", None)
            if box is not None and pos < box.count():
                box.setCurrentIndex(pos)
        return select

    # ------------------------------------------------------------------ theme
    def apply_theme(self, name: str) -> None:
        """Switch to the "dark" or "light" theme (plots, labels)."""
        self.theme = THEMES[name]
        t = self.theme
        for wdg in (self.sweep_widget, self.tc_widget, self.io_widget, self.side_widget):
            wdg.setBackground(t.background)
        self.setStyleSheet(
            f"QMainWindow, QWidget {{ background-color: {t.background}; color: {t.foreground}; }}"
            f" QToolButton {{ border: 1px solid {t.muted}; padding: 4px 8px; }}")
        for sp in self.sweep_plots.values():
            sp.apply_theme(t)
        self.time_course.apply_theme(t)
        self.io_panel.apply_theme(t)
        self.side_courses.apply_theme(t)

    # ------------------------------------------------------------------ update loop
    def _pace(self) -> None:
        """Keep the GUI thread's CPU share under ``cpu_budget`` by stretching the timer.

        Painting is Python (pyqtgraph) and holds the GIL; at ``--speed max`` or with huge
        sweeps a 30 Hz redraw could take CPU the engine and storage need. Measured with
        ``time.thread_time`` (this thread's CPU, painting included) over ≥ 0.5 s windows."""
        now = time.perf_counter()
        w0, c0 = self._pace_mark
        if now - w0 < 0.5:
            return
        cpu = time.thread_time()  # a syscall, slow on some VMs: at most twice a second
        load = (cpu - c0) / (now - w0)
        self.gui_load = load
        base = self._base_interval_ms
        iv = self.timer.interval()
        if load > self.cpu_budget:
            iv = min(1000, int(iv * load / self.cpu_budget) + 1)
        elif load < 0.5 * self.cpu_budget:
            iv = max(base, int(iv * 0.7))
        if iv != self.timer.interval():
            self.timer.setInterval(iv)
        self._pace_mark = (now, cpu)

    def tick(self) -> None:
        """Drain the feed, apply every document, redraw once (called by the QTimer)."""
        self._pace()
        done = self.engine_done() if self.engine_done is not None else False
        if self.feed is not None:
            for doc in self.feed.drain():
                self.model.apply(doc)
                if (self._shot_path is not None and self._shot_at_s is not None
                        and self.model.elapsed_s >= self._shot_at_s):
                    self.redraw()
                    self._take_screenshot()
        self.redraw()
        if not self._finished and (self.model.stop is not None or done):
            self._finished = True
            if self._shot_path is not None:
                self._take_screenshot()
            if self.close_on_stop:
                QtCore.QTimer.singleShot(0, self.force_close)

    def schedule_screenshot(self, path: str | Path, at_s: float | None = None) -> None:
        """Save a PNG when the experiment time reaches ``at_s`` s (None: when the run ends)."""
        self._shot_path, self._shot_at_s = Path(path), at_s

    def _take_screenshot(self) -> None:
        assert self._shot_path is not None
        self.screenshot = save_screenshot(self, self._shot_path)
        self.screenshot_taken_at_s = self.model.elapsed_s
        self._shot_path = None

    def redraw(self) -> None:
        m = self.model
        if m.v_windows != self._v_windows:  # the windows in use (run start, `windows` events)
            self._v_windows = m.v_windows
            self.sync_windows(m)  # every pathway's, then each pathway's own
        for pos, p in enumerate(m.pathways):
            if p not in self.sweep_plots:
                self._add_sweep_plot(pos, p)
            self.sweep_plots[p].update(m, p, self._windows_of(p))
        self.time_course.update(m)
        if m.v_io and not self.io_widget.isVisible():
            self.io_widget.setVisible(True)
            h = sum(self.left_split.sizes())
            self.left_split.setSizes([h // 2, h - h // 2])
        self.io_panel.update(m)
        self.side_courses.update(m)
        self._update_status()
        self.frames_drawn += 1
        self.frameDrawn.emit(self.frames_drawn)

    def _add_sweep_plot(self, pos: int, p: int) -> None:
        plot = self.sweep_widget.addPlot(row=pos, col=0)
        sp = SweepPlot(plot, f"S{p + 1}", self._windows_of(p), self.artifact_ms,
                       movable=not self.read_only, on_window_moved=functools.partial(self._on_window_moved, pathway=p))
        sp.apply_theme(self.theme)
        if self.sweep_plots:
            plot.setXLink(next(iter(self.sweep_plots.values())).plot)
        self.sweep_plots[p] = sp
        if hasattr(self, "pathway_box"):
            self.pathway_box.addItem(f"S{p + 1}", p)

    _header_key: tuple = ()
    _header_at = -math.inf

    def _update_status(self) -> None:
        dropped = self.feed.dropped_sweeps if self.feed is not None else 0
        st = status_text(self.model, self.plan, self.out_path, dropped)
        t = self.theme
        m = self.model
        key = (m.v_events, m.v_phases, m.stop is not None, t.name, self.time_course.field)
        now = time.monotonic()
        # the header at ≤ 10 Hz (its labels cost ~4 ms a frame offscreen), at once on an event
        if self.header.dirty or key != self._header_key or now - self._header_at >= 0.1:
            self._header_key, self._header_at, self.header.dirty = key, now, False
            self.header.update_from(m, st, t, self.time_course.field)
        if m.v_reply != self._v_reply:  # the controller's answer, refusals with their reason
            self._v_reply = m.v_reply
            self.message.setText(m.reply)
            self.message.setStyleSheet(f"color: {t.alarm};" if m.reply_refused else "")
        if "stop" in self.actions:
            self.actions["stop"].setEnabled(self.model.stop is None)

    def _show_ppr(self, on: bool) -> None:
        plot = self.side_courses.ppr
        if plot.isVisible() != on:
            plot.setVisible(on)

    def run_active(self) -> bool:
        return self.model.run is not None and self.model.stop is None

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if not self.read_only and self.run_active() and not getattr(self, "_force_close", False):
            if not self.confirm("Closing the window stops the recording. Stop now?"):
                event.ignore()
                return
            self.send(Command("stop", text="window closed"))
        self.timer.stop()
        event.accept()

    def force_close(self) -> None:
        """Close without asking (the run has ended or the caller decided)."""
        self._force_close = True
        self.close()


def save_screenshot(widget: QtWidgets.QWidget, path: str | Path) -> Path:
    """Render ``widget`` to a PNG (works offscreen); creates parent directories."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    QtWidgets.QApplication.processEvents()  # let pending layout requests resize the labels
    if not widget.grab().save(str(p)):
        raise OSError(f"{p}: could not write the screenshot")
    return p
