"""The grid window of a multi-site run: one :class:`~rig.display.sites_panel.SitePanel` per site
(GUI thread only).

Threading and pacing as the rig window (:mod:`rig.display.window`): every site's documents
arrive through its own non-blocking :class:`~rig.display.feed.DisplayFeed`; one QTimer drains all
of them, applies them to each site's model and redraws once per tick what changed; the timer
slows down when the GUI thread uses more than ``cpu_budget`` of a core. A frozen window never
slows a site's acquisition or storage.

Controls: each panel's buttons act on that panel's site. The keys act on the *selected* panel
(click it, or press its number 1–9; Tab: the next one) and its message line says which site got
the command: P pause · R resume · M mark · I induce now · B extend baseline · Up/Down intensity
± of its selected pathway · Ctrl+Q stop that site (asks) · Ctrl+Shift+Q stop every site (asks) ·
T dark/light. Closing the window while sites record asks, then stops every site.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from rig.display.labels import ElidedLabel
from rig.display.sites_panel import SitePanel, _font
from rig.display.sites_status import STATES
from rig.display.status import hms
from rig.display.theme import THEMES, Theme

KEYS: tuple[tuple[str, str], ...] = (
    ("P", "act_pause"), ("R", "act_resume"), ("M", "act_mark"), ("I", "act_induce_now"),
    ("B", "act_extend_baseline"), ("Up", "act_intensity_up"), ("Down", "act_intensity_down"),
    ("Ctrl+Q", "act_stop"),
)


class Pacer:
    """Stretches a QTimer so the GUI thread's CPU share stays under ``budget`` (as the rig window):
    measured with ``time.thread_time`` over ≥ 0.5 s windows."""

    def __init__(self, timer: QtCore.QTimer, base_ms: int, budget: float) -> None:
        self.timer, self.base_ms, self.budget = timer, base_ms, budget
        self.load = 0.0
        self._mark = (time.perf_counter(), time.thread_time())

    def __call__(self) -> None:
        now = time.perf_counter()
        w0, c0 = self._mark
        if now - w0 < 0.5:
            return
        cpu = time.thread_time()
        self.load = (cpu - c0) / (now - w0)
        iv = self.timer.interval()
        if self.load > self.budget:
            iv = min(1000, int(iv * self.load / self.budget) + 1)
        elif self.load < 0.5 * self.budget:
            iv = max(self.base_ms, int(iv * 0.7))
        if iv != self.timer.interval():
            self.timer.setInterval(iv)
        self._mark = (now, cpu)


class SitesWindow(QtWidgets.QMainWindow):
    """``sites``: one dict per site with ``name``, ``feed``, ``commands`` and optionally ``plan``,
    ``offset_s``, ``out_path``. ``stop_all()`` stops every site (the run's stop flag);
    ``engine_done()`` says when every site's engine has ended; ``confirm`` / ``ask_text``
    replace the dialogs (tests)."""

    frameDrawn = QtCore.Signal(int)  # noqa: N815 (Qt naming)

    def __init__(self, sites: list[dict], *, title: str = "LTP Rig — sites", index_path: str | None = None,
                 theme: str = "dark", refresh_hz: float = 20.0, cpu_budget: float = 0.3,
                 stop_all: Callable[[], None] | None = None, engine_done: Callable[[], bool] | None = None,
                 close_on_stop: bool = False, confirm: Callable[[str], bool] | None = None,
                 ask_text: Callable[[str], str | None] | None = None,
                 intensity_limits_uA: tuple[float, float] = (0.0, math.inf)) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.index_path = index_path
        self.theme: Theme = THEMES[theme]
        self.stop_all = stop_all
        self.engine_done = engine_done
        self.close_on_stop = close_on_stop
        self.confirm = confirm or self._confirm_dialog
        self.ask_text = ask_text or self._text_dialog
        self.frames_drawn = 0
        self._finished = False
        self._shot: tuple[Path, float | None] | None = None
        self.screenshot: Path | None = None
        self.screenshot_taken_at_s = math.nan
        central = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        top = QtWidgets.QHBoxLayout()
        self.summary = _font(ElidedLabel(""), 14, bold=True)
        top.addWidget(self.summary, 1)
        self.stop_all_button = QtWidgets.QPushButton("Stop all sites…")
        self.stop_all_button.setToolTip("End every site's run (asks)  [Ctrl+Shift+Q]")
        self.stop_all_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.stop_all_button.clicked.connect(self.act_stop_all)
        top.addWidget(self.stop_all_button)
        outer.addLayout(top)
        grid = QtWidgets.QGridLayout()
        grid.setSpacing(6)
        cols = 1 if len(sites) == 1 else 2 if len(sites) <= 4 else 3
        self.panels: list[SitePanel] = []
        for k, s in enumerate(sites):
            p = SitePanel(s["name"], s.get("feed"), s.get("commands"), plan=s.get("plan"),
                          offset_s=float(s.get("offset_s", 0.0)), out_path=s.get("out_path"), theme=self.theme,
                          confirm=self.confirm, ask_text=self.ask_text, on_select=self.select,
                          intensity_limits_uA=intensity_limits_uA)
            grid.addWidget(p, k // cols, k % cols)
            self.panels.append(p)
        for r in range((len(sites) + cols - 1) // cols):
            grid.setRowStretch(r, 1)
        for c in range(cols):
            grid.setColumnStretch(c, 1)
        outer.addLayout(grid, 1)
        self.message = _font(ElidedLabel("click a site (or press its number) to aim the keys at it"), 11)
        outer.addWidget(self.message)
        self.setCentralWidget(central)
        self._shortcuts()
        self.selected: SitePanel | None = None
        if self.panels:
            self.select(self.panels[0])
        self.apply_theme(theme)
        self.resize(1600, 1000)
        self.timer = QtCore.QTimer(self)
        base = max(1, int(1000 / refresh_hz))
        self.timer.setInterval(base)
        self.pacer = Pacer(self.timer, base, cpu_budget)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ------------------------------------------------------------------ keys, selection
    def _shortcut(self, key: str, slot: Callable[[], None]) -> None:
        act = QtGui.QAction(key, self)
        act.setShortcut(QtGui.QKeySequence(key))
        act.setShortcutContext(QtCore.Qt.WindowShortcut)
        act.triggered.connect(slot)
        self.addAction(act)

    def _shortcuts(self) -> None:
        for key, method in KEYS:
            self._shortcut(key, self._on_selected(method))
        for k in range(min(9, len(self.panels))):
            self._shortcut(str(k + 1), self._select_action(k))
        self._shortcut("Tab", self.select_next)
        self._shortcut("Ctrl+Shift+Q", self.act_stop_all)
        self._shortcut("T", self.toggle_theme)

    def _on_selected(self, method: str) -> Callable[[], None]:
        def act() -> None:
            if self.selected is not None:
                getattr(self.selected, method)()
                self.message.setText(f"{method[4:].replace('_', ' ')} → site {self.selected.name}")
        return act

    def _select_action(self, k: int) -> Callable[[], None]:
        return lambda: self.select(self.panels[k])

    def select(self, panel: SitePanel) -> None:
        """Aim the keys at ``panel``'s site."""
        self.selected = panel
        for p in self.panels:
            p.set_selected(p is panel)
        self.message.setText(f"keys act on site {panel.name}")

    def select_next(self) -> None:
        if self.panels:
            k = self.panels.index(self.selected) if self.selected in self.panels else -1
            self.select(self.panels[(k + 1) % len(self.panels)])

    def panel(self, name: str) -> SitePanel:
        return next(p for p in self.panels if p.name == name)

    # ------------------------------------------------------------------ theme, update loop
    def apply_theme(self, name: str) -> None:
        self.theme = t = THEMES[name]
        self.setStyleSheet(f"QMainWindow, QWidget {{ background-color: {t.background}; color: {t.foreground}; }}"
                           f" QPushButton {{ border: 1px solid {t.muted}; padding: 2px 6px; }}")
        for p in self.panels:
            p.apply_theme(t)

    def toggle_theme(self) -> None:
        self.apply_theme("light" if self.theme.name == "dark" else "dark")
        self.redraw()

    def tick(self) -> None:
        """Drain every site's feed, redraw once; the screenshot and the end of the run."""
        self.pacer()
        for p in self.panels:
            p.drain()
        self.redraw()
        if self._shot is not None and self._shot[1] is not None and self.elapsed_s >= self._shot[1]:
            self._take_screenshot()
        done = self.engine_done() if self.engine_done is not None else False
        if not self._finished and (done or all(p.model.stop is not None for p in self.panels)):
            self._finished = True
            if self._shot is not None:
                self._take_screenshot()
            if self.close_on_stop:
                QtCore.QTimer.singleShot(0, self.force_close)

    @property
    def elapsed_s(self) -> float:
        """Board time: the furthest any site has come plus its start offset."""
        return max((p.model.elapsed_s + p.offset_s for p in self.panels if p.model.run), default=0.0)

    def redraw(self) -> None:
        for p in self.panels:
            p.redraw()
        states = [p.state for p in self.panels]
        counts = {s: states.count(s) for s in dict.fromkeys(states)}
        words = ", ".join(f"{n} {STATES[s][0]}" for s, n in counts.items())
        where = f"  ·  {Path(self.index_path).name}" if self.index_path else ""
        self.summary.setText(f"{len(self.panels)} sites  ·  board time {hms(self.elapsed_s)}  ·  {words}{where}")
        self.stop_all_button.setEnabled(any(p.model.stop is None for p in self.panels) and not self._finished)
        self.frames_drawn += 1
        self.frameDrawn.emit(self.frames_drawn)

    # ------------------------------------------------------------------ screenshots, closing
    def schedule_screenshot(self, path: str | Path, at_s: float | None = None) -> None:
        """A PNG when the board time reaches ``at_s`` s (None: when every site has ended)."""
        self._shot = (Path(path), at_s)

    def _take_screenshot(self) -> None:
        from rig.display.window import save_screenshot

        assert self._shot is not None
        self.redraw()
        self.screenshot = save_screenshot(self, self._shot[0])
        self.screenshot_taken_at_s = self.elapsed_s
        self._shot = None

    def running(self) -> bool:
        return any(p.model.run is not None and p.model.stop is None for p in self.panels) and not self._finished

    def act_stop_all(self) -> None:
        if self.stop_all is not None and self.confirm("Stop every site now? Every output goes to 0 V and "
                                                      "every file is closed with its complete sweeps."):
            self.stop_all()
            self.message.setText("stop sent to every site")

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self.running() and not getattr(self, "_force_close", False):
            if not self.confirm("Closing the window stops every site's recording. Stop now?"):
                event.ignore()
                return
            if self.stop_all is not None:
                self.stop_all()
        self.timer.stop()
        event.accept()

    def force_close(self) -> None:
        self._force_close = True
        self.close()

    def _confirm_dialog(self, question: str) -> bool:
        if QtGui.QGuiApplication.platformName() == "offscreen":
            return True  # nobody can answer a modal dialog offscreen
        buttons = QtWidgets.QMessageBox.StandardButton
        return QtWidgets.QMessageBox.question(self, "LTP Rig", question, buttons.Yes | buttons.No,
                                              buttons.No) == buttons.Yes

    def _text_dialog(self, prompt: str) -> str | None:
        text, ok = QtWidgets.QInputDialog.getText(self, "LTP Rig", prompt)
        return text if ok else None
