"""One site's panel in the grid window of a multi-site run (GUI thread only).

A panel is a small rig window for one slice: its name and state (waiting, running, PAUSED, HELD,
STOPPED BY ALARM, completed, …) on a coloured badge, its phase, time and counts, its live % of
baseline per pathway in large type; the latest sweep of each pathway (with the baseline average
and the slope window) beside its time course as % of baseline (phases shaded, events marked);
its own buttons, which send commands to *this* site's controller only; and its own message
line with the controller's answer (refusals with their reason).

It owns a :class:`~rig.display.model.DisplayModel` fed from the site's
:class:`~rig.display.feed.DisplayFeed`; :meth:`drain` applies what arrived, :meth:`redraw`
touches only what changed (the model's version counters), the header at most 5×/s.
"""

from __future__ import annotations

import math
import queue
import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from rig.core.commands import Command, post
from rig.core.plan import Plan
from rig.display.actions import CONFIRM_FRACTION
from rig.display.feed import DisplayFeed
from rig.display.header import live_percent, result_text
from rig.display.labels import ElidedLabel
from rig.display.model import DisplayModel
from rig.display.panels import TimeCoursePanel, response_y_range, shade, style_plot
from rig.display.sites_status import STATES, site_state
from rig.display.status import status_text
from rig.display.theme import BANNER_COLOURS, WINDOW_COLOURS, Theme, pathway_colour

# (command, button text, tooltip); the window's keys act on the selected panel
BUTTONS: tuple[tuple[str, str, str], ...] = (
    ("pause", "Pause", "Stop stimulating this site; its recording continues  [P]"),
    ("resume", "Resume", "Resume stimulating this site  [R]"),
    ("mark", "Mark…", "Record a free-text event in this site's file  [M]"),
    ("induce_now", "Induce now", "End this site's baseline and induce  [I]"),
    ("extend_baseline", "Extend", "Extend this site's baseline by 5 min  [B]"),
    ("intensity_up", "µA +", "Raise the selected pathway's test intensity  [Up]"),
    ("intensity_down", "µA −", "Lower the selected pathway's test intensity  [Down]"),
    ("stop", "Stop site…", "End this site's run (asks); the other sites go on  [Ctrl+Q]"),
)
HEADER_HZ = 5.0
X_RANGE_MS = (-5.0, 30.0)


class SiteSweeps:
    """The latest sweep of every pathway of one site, its baseline average dashed, the slope window."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.setLabel("bottom", "ms from stimulus")
        plot.setLabel("left", "mV")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setXRange(*X_RANGE_MS, padding=0)
        plot.enableAutoRange(x=False, y=False)
        plot.setMouseEnabled(x=False, y=True)
        self.slope = pg.LinearRegionItem((0.0, 0.0), movable=False)
        self.slope.setZValue(-10)
        plot.addItem(self.slope)
        self.latest: dict[int, pg.PlotDataItem] = {}
        self.baseline: dict[int, pg.PlotDataItem] = {}
        self._versions: dict[int, int] = {}
        self._v_windows = -1
        self.theme: Theme | None = None

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        style_plot(self.plot, theme, font_pt=9)
        self.slope.setBrush(pg.mkBrush(shade(WINDOW_COLOURS["slope"], theme)))
        for c in self.baseline.values():
            c.setPen(pg.mkPen(theme.foreground, width=1, style=QtCore.Qt.DashLine))
        self._versions.clear()

    def update(self, model: DisplayModel) -> None:
        if model.v_windows != self._v_windows:
            self._v_windows = model.v_windows
            w = model.windows.get("slope")
            if isinstance(w, (list, tuple)) and len(w) == 2:
                self.slope.setRegion((float(w[0]), float(w[1])))
        changed = False
        for pos, p in enumerate(model.pathways):
            v = model.sweeps.get(p)
            if v is None or v.latest is None or self._versions.get(p) == model.v_sweeps.get(p):
                continue
            self._versions[p] = model.v_sweeps[p]
            changed = True
            if p not in self.latest:
                fg = self.theme.foreground if self.theme else "#cccccc"
                self.baseline[p] = self.plot.plot(pen=pg.mkPen(fg, width=1, style=QtCore.Qt.DashLine))
                self.latest[p] = self.plot.plot(pen=pg.mkPen(pathway_colour(pos), width=2))
            self.latest[p].setData(v.x_ms, v.latest, skipFiniteCheck=True)
            if v.baseline is not None:
                self.baseline[p].setData(v.average_x_ms, v.baseline, skipFiniteCheck=True)
        if changed:
            self._rescale(model)

    def _rescale(self, model: DisplayModel) -> None:
        traces = [(v.x_ms, v.latest, v.pulse_ms) for v in model.sweeps.values() if v.latest is not None]
        art = model.windows.get("artifact", (0.0, 0.8))
        span = response_y_range(traces, X_RANGE_MS, (float(art[0]), float(art[1])))
        if span is None:
            return
        lo, hi = span
        v0, v1 = self.plot.vb.viewRange()[1]
        d = hi - lo or 0.1
        if lo < v0 or hi > v1 or d < 0.6 * (v1 - v0):  # hysteresis: an axis change is the costly part
            self.plot.setYRange(lo - 0.1 * d, hi + 0.1 * d, padding=0)


class SitePanel(QtWidgets.QFrame):
    """One site of the grid (see the module docstring). ``commands``: this site's queue;
    ``confirm(question)`` / ``ask_text(prompt)``: the window's dialogs; ``on_select(panel)``:
    a click on the panel selects it (the window's keys then act on it)."""

    def __init__(self, name: str, feed: DisplayFeed | None, commands: queue.Queue | None, *,
                 plan: Plan | None = None, offset_s: float = 0.0, out_path: str | None = None,
                 theme: Theme, confirm: Callable[[str], bool], ask_text: Callable[[str], str | None],
                 on_select: Callable[[SitePanel], None], intensity_step_uA: float = 5.0,
                 intensity_limits_uA: tuple[float, float] = (0.0, math.inf)) -> None:
        super().__init__()
        self.name, self.feed, self.commands, self.plan = name, feed, commands, plan
        self.offset_s, self.out_path = offset_s, out_path
        self.theme, self.confirm, self.ask_text, self.on_select = theme, confirm, ask_text, on_select
        self.intensity_step_uA, self.intensity_limits_uA = intensity_step_uA, intensity_limits_uA
        self.model = DisplayModel()
        self.selected = False
        self.selected_pathway = 0
        self.sent: list[Command] = []
        self.command_listeners: list[Callable[[str, Command], None]] = []
        self._header_at = -math.inf
        self._header_key: tuple = ()
        self._v_reply = 0
        self._build()
        self.apply_theme(theme)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.setObjectName("sitePanel")
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(2)
        top = QtWidgets.QHBoxLayout()
        self.title = _font(QtWidgets.QLabel(self.name), 20, bold=True)
        top.addWidget(self.title)
        self.badge = _font(QtWidgets.QLabel("waiting"), 13, bold=True)
        self.badge.setContentsMargins(8, 1, 8, 1)
        top.addWidget(self.badge)
        self.info = _font(ElidedLabel("—"), 11)
        top.addWidget(self.info, 1)
        self.percent_row = QtWidgets.QHBoxLayout()
        self.percent_row.setSpacing(14)
        top.addLayout(self.percent_row)
        outer.addLayout(top)
        self.detail = _font(ElidedLabel("—"), 10)
        outer.addWidget(self.detail)
        self.plots = pg.GraphicsLayoutWidget()
        self.sweeps = SiteSweeps(self.plots.addPlot(row=0, col=0))
        tc = self.plots.addPlot(row=0, col=1)
        self.time_course = TimeCoursePanel(tc)
        tc.getAxis("left").setWidth(48)
        tc.getAxis("bottom").enableAutoSIPrefix(False)  # minutes stay minutes in a short run
        self.plots.ci.layout.setColumnStretchFactor(0, 2)
        self.plots.ci.layout.setColumnStretchFactor(1, 3)
        outer.addWidget(self.plots, 1)
        row = QtWidgets.QHBoxLayout()
        row.setSpacing(3)
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        for cmd, text, tip in BUTTONS:
            b = QtWidgets.QPushButton(text)
            b.setToolTip(f"site {self.name}: {tip}")
            b.setFocusPolicy(QtCore.Qt.NoFocus)
            b.clicked.connect(getattr(self, f"act_{cmd}"))
            row.addWidget(b)
            self.buttons[cmd] = b
            if cmd == "extend_baseline":
                self.pathway_box = QtWidgets.QComboBox()
                self.pathway_box.setFocusPolicy(QtCore.Qt.NoFocus)
                self.pathway_box.setToolTip(f"site {self.name}: the pathway µA +/− act on")
                self.pathway_box.currentIndexChanged.connect(self._on_pathway_box)
                row.addWidget(self.pathway_box)
        self.message = _font(ElidedLabel(""), 10)
        row.addWidget(self.message, 1)
        outer.addLayout(row)

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plots.setBackground(theme.background)
        self.sweeps.apply_theme(theme)
        self.time_course.apply_theme(theme)
        self._frame()
        self._header_key = ()

    def _frame(self) -> None:
        t = self.theme
        colour = BANNER_COLOURS["ended"][0] if self.selected else t.muted
        self.setStyleSheet(f"QFrame#sitePanel {{ border: {3 if self.selected else 1}px solid {colour}; "
                           f"border-radius: 4px; }}")

    def set_selected(self, on: bool) -> None:
        if on != self.selected:
            self.selected = on
            self._frame()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.on_select(self)
        super().mousePressEvent(event)

    # ------------------------------------------------------------------ documents
    def drain(self) -> int:
        """Apply every document the site's feed holds; how many."""
        if self.feed is None:
            return 0
        docs = self.feed.drain()
        for d in docs:
            self.model.apply(d)
        return len(docs)

    @property
    def state(self) -> str:
        return site_state(self.model)

    def redraw(self) -> None:
        m = self.model
        for p in m.pathways:
            if self.pathway_box.findData(p) < 0:
                self.pathway_box.addItem(f"S{p + 1}", p)
        self.sweeps.update(m)
        self.time_course.update(m)
        now = time.monotonic()
        key = (self.state, m.v_events, m.v_phases, self.theme.name)
        if key != self._header_key or now - self._header_at >= 1.0 / HEADER_HZ:
            self._header_key, self._header_at = key, now
            self._header()
        if m.v_reply != self._v_reply:  # the controller's answer, refusals with their reason
            self._v_reply = m.v_reply
            self.message.setText(m.reply)
            self.message.setStyleSheet(f"color: {self.theme.alarm};" if m.reply_refused else "")
        self.buttons["stop"].setEnabled(m.stop is None)

    def _header(self) -> None:
        m, t = self.model, self.theme
        state = self.state
        word, colour = STATES[state]
        if state == "waiting" and self.offset_s:
            word = f"starts at +{self.offset_s:g} s"
        self.badge.setText(word)
        bg, fg = BANNER_COLOURS.get(colour, (t.background, t.foreground))
        self.badge.setStyleSheet(f"background-color: {bg}; color: {fg}; border-radius: 3px;")
        dropped = self.feed.dropped_sweeps if self.feed is not None else 0
        st = status_text(m, self.plan, self.out_path, dropped)
        self.info.setText(f"{st.phase}  ·  {st.elapsed}  ·  {st.phase_left} left  ·  next {st.next_stim}")
        self.info.setStyleSheet(f"color: {t.foreground};")
        why = f"{m.stop.reason}: {m.stop.message}" if m.stop is not None and m.stop.message else \
            m.stop.reason if m.stop is not None else ""
        stop = f"{why}  ·  {result_text(m)}  ·  " if why else ""
        self.detail.setText(f"{stop}{st.sweeps} sweeps  ·  {st.gaps}  ·  {st.intensity}  ·  "
                            f"alarm: {st.alarm}  ·  {st.file}")
        bad = st.gaps_alarm or (m.stop is not None and state != "completed")
        self.detail.setStyleSheet(f"color: {t.alarm if bad else t.muted};")
        for pos, p in enumerate(m.pathways):
            lab = self._percent_label(p)
            pct = live_percent(m, p, self.time_course.field)
            lab.setText(f"S{p + 1} {pct:.0f} %" if math.isfinite(pct) else f"S{p + 1} —")
            lab.setStyleSheet(f"color: {pathway_colour(pos)};")

    def _percent_label(self, p: int) -> QtWidgets.QLabel:
        lab = getattr(self, "_percent", {}).get(p)
        if lab is None:
            self._percent = getattr(self, "_percent", {})
            lab = self._percent[p] = _font(QtWidgets.QLabel(), 20, bold=True)
            self.percent_row.addWidget(lab)
        return lab

    def live_percent_text(self) -> dict[int, str]:
        """Pathway → the live % label's text (tests)."""
        return {p: lab.text() for p, lab in getattr(self, "_percent", {}).items()}

    # ------------------------------------------------------------------ commands
    def send(self, command: Command) -> bool:
        """Put ``command`` on this site's queue; the message line says which site it went to."""
        if self.commands is None:
            return False
        post(self.commands, command)
        self.sent.append(command)
        for listener in self.command_listeners:
            listener(self.name, command)
        self.message.setText(f"site {self.name}: sent {command.cmd}")
        self.message.setStyleSheet("")
        return True

    def act_pause(self) -> None:
        self.send(Command("pause"))

    def act_resume(self) -> None:
        self.send(Command("resume"))

    def act_mark(self) -> None:
        text = self.ask_text(f"Event text for site {self.name}:")
        if text:
            self.send(Command("mark", text=text))

    def act_induce_now(self) -> None:
        if self.confirm(f"Induce now on site {self.name}? This ends its baseline and starts its induction; "
                        "it cannot be undone. The other sites go on as planned."):
            self.send(Command("induce_now"))
        else:
            self.message.setText(f"site {self.name}: induce now cancelled, nothing sent")

    def act_extend_baseline(self) -> None:
        self.send(Command("extend_baseline"))

    def act_stop(self) -> None:
        if self.confirm(f"Stop site {self.name} now? Its outputs go to 0 V and its file is closed; "
                        "the other sites go on recording."):
            self.send(Command("stop", text=f"site {self.name} stopped from the grid window"))

    def act_intensity_up(self) -> None:
        self._intensity(+1.0)

    def act_intensity_down(self) -> None:
        self._intensity(-1.0)

    def _on_pathway_box(self, index: int) -> None:
        data = self.pathway_box.itemData(index)
        if data is not None:
            self.selected_pathway = int(data)

    def _intensity(self, sign: float) -> None:
        """As the rig window: within the rig's limits; beyond ±20 % of the baseline intensity it asks."""
        p, m = self.selected_pathway, self.model
        cur = m.intensity_uA.get(p)
        delta = sign * self.intensity_step_uA
        lo, hi = self.intensity_limits_uA
        if cur is not None:
            delta = min(max(cur + delta, lo), hi) - cur
        if delta == 0:
            self.message.setText(f"site {self.name}: S{p + 1} intensity at the rig limit")
            return
        base = m.baseline_intensity_uA.get(p)
        if cur is not None and base and abs(cur + delta - base) > CONFIRM_FRACTION * base:
            if not self.confirm(f"Set site {self.name} S{p + 1} to {cur + delta:.0f} µA? That is "
                                f"{(cur + delta - base) / base * 100:+.0f} % of its baseline intensity "
                                f"({base:.0f} µA), beyond ±{CONFIRM_FRACTION * 100:.0f} %."):
                self.message.setText(f"site {self.name}: intensity change cancelled, nothing sent")
                return
        self.send(Command("intensity", pathway=p, delta_uA=float(delta)))

    def time_course_points(self, pathway: int = 0) -> np.ndarray:
        """The % of baseline drawn for ``pathway`` (tests)."""
        c = self.time_course.curves.get(pathway)
        return np.asarray(c.yData) if c is not None and c.yData is not None else np.zeros(0)


def _font(w: QtWidgets.QWidget, pt: int, bold: bool = False) -> QtWidgets.QWidget:
    f = w.font()
    f.setPointSize(pt)
    f.setBold(bold)
    w.setFont(f)
    return w
