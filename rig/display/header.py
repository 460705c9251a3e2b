"""The window's header: a banner readable from 2 m (alarm, held induction, pause, end with the
RESULT), the status in large type and a live "% of baseline" per pathway (GUI thread only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6 import QtCore, QtWidgets

from rig.display.labels import ElidedLabel
from rig.display.model import DisplayModel
from rig.display.status import StatusText, hms
from rig.display.theme import BANNER_COLOURS, Theme, pathway_colour

LIVE_POINTS = 3  # the live % of baseline: mean of the last 3 valid test sweeps


@dataclass(frozen=True)
class Banner:
    """What the banner says: ``kind`` (alarm, held, paused, ended, "" = hidden) and its text."""

    kind: str
    text: str


def live_percent(model: DisplayModel, pathway: int, field_name: str = "slope") -> float:
    """Mean % of baseline of the last :data:`LIVE_POINTS` valid test sweeps (NaN before a baseline)."""
    if pathway not in model.time_course:
        return math.nan
    r = model.result(pathway, field_name)
    if not r.baseline_mean or r.percent.size == 0:
        return math.nan
    return float(r.percent[-LIVE_POINTS:].mean())


def result_text(model: DisplayModel, field_name: str = "slope") -> str:
    """``RESULT  S1 152 %  S2 101 % of baseline (last 10 min)``, or why there is none."""
    parts, why = [], ""
    for p in model.pathways:
        if p not in model.time_course:
            continue
        r = model.result(p, field_name)
        if r.magnitude_percent is not None:
            parts.append(f"S{p + 1} {r.magnitude_percent:.0f} %")
        else:
            why = why or r.reason
    if not parts:
        return f"no result: {why}" if why else "no result"
    return f"RESULT  {'   '.join(parts)} of baseline (last 10 min)"


def last_event(model: DisplayModel, kinds: tuple[str, ...]):
    """The latest event of ``kinds`` (EventInfo), or None."""
    return next((e for e in reversed(model.events) if e.kind in kinds), None)


def banner_for(model: DisplayModel, acknowledged_alarms: int = 0) -> Banner:
    """Priority: end of the run, an unacknowledged alarm, a held induction, a pause."""
    if model.stop is not None:
        return Banner("ended", f"RUN ENDED ({model.stop.reason})  ·  {result_text(model)}")
    alarms = [e for e in model.events if e.kind == "alarm"]
    if len(alarms) > acknowledged_alarms:
        a = alarms[-1]
        more = f"  (+{len(alarms) - acknowledged_alarms - 1} more)" if len(alarms) - acknowledged_alarms > 1 else ""
        name = str(a.data.get("alarm", ""))
        text = a.text[len(name) + 2:] if name and a.text.startswith(name + ": ") else a.text
        return Banner("alarm", f"ALARM at {hms(a.t_s)}  ·  {text}{more}")
    if model.paused:
        pause = last_event(model, ("paused",))
        held = last_event(model, ("induction_held",))
        if held is not None and pause is not None and held.t_s >= pause.t_s:
            n = held.data.get("pulses_pending")
            pending = f" ({n} pulses pending)" if n else ""
            return Banner("held", f"INDUCTION HELD{pending}  ·  paused, recording  ·  Resume [R] delivers it")
        cause = f" ({pause.text})" if pause is not None and pause.text else ""
        return Banner("paused", f"PAUSED  ·  no stimulation, recording goes on  ·  Resume [R]{cause}")
    return Banner("", "")


class StatusHeader(QtWidgets.QWidget):
    """Banner + large status labels + live % of baseline. ``on_close`` is the end-of-run Close
    button's action; ``acknowledge`` (button, key Esc) hides the alarm banner until the next alarm."""

    BIG = (("state", "state"), ("phase", "phase"), ("phase_left", "left in phase"),
           ("elapsed", "elapsed"), ("next_stim", "next stimulus"), ("sweeps", "sweeps"))
    SMALL = (("intensity", "intensity"), ("gaps", "gaps/overruns"), ("file", "file"), ("alarm", "last alarm"))

    def __init__(self, on_close: Callable[[], None]) -> None:
        super().__init__()
        self.acknowledged = self._n_alarms = 0
        self.dirty = True  # redraw at the next frame whatever the window's rate limit
        self.banner = Banner("", "")
        self.theme: Theme | None = None
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 2)
        outer.setSpacing(2)
        self.banner_box = QtWidgets.QFrame()
        row = QtWidgets.QHBoxLayout(self.banner_box)
        row.setContentsMargins(10, 4, 10, 4)
        self.banner_label = ElidedLabel()
        self._font(self.banner_label, 22, bold=True)
        row.addWidget(self.banner_label, 1)
        self.ack_button = QtWidgets.QPushButton("Acknowledge [Esc]")
        self.ack_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.ack_button.clicked.connect(self.acknowledge)
        row.addWidget(self.ack_button)
        self.close_button = QtWidgets.QPushButton("Close window")
        self.close_button.setFocusPolicy(QtCore.Qt.NoFocus)
        self.close_button.clicked.connect(on_close)
        self._font(self.close_button, 14, bold=True)
        row.addWidget(self.close_button)
        self.banner_box.setVisible(False)
        outer.addWidget(self.banner_box)
        grid = QtWidgets.QGridLayout()
        grid.setHorizontalSpacing(28)
        grid.setVerticalSpacing(0)
        self.labels: dict[str, QtWidgets.QLabel] = {}
        for col, (key, caption) in enumerate(self.BIG):
            grid.addWidget(self._font(QtWidgets.QLabel(caption), 10), 0, col)
            lab = self._font(QtWidgets.QLabel("—"), 22, bold=True)
            grid.addWidget(lab, 1, col)
            grid.setColumnStretch(col, 1)
            self.labels[key] = lab
        self.percent_col = len(self.BIG)
        grid.addWidget(self._font(QtWidgets.QLabel("now, % of baseline"), 10), 0, self.percent_col)
        self.percent_row = QtWidgets.QHBoxLayout()
        self.percent_row.setSpacing(24)
        grid.addLayout(self.percent_row, 1, self.percent_col)
        grid.setColumnStretch(self.percent_col, 2)
        self.percent_labels: dict[int, QtWidgets.QLabel] = {}
        small = QtWidgets.QHBoxLayout()
        for key, caption in self.SMALL:
            small.addWidget(self._font(QtWidgets.QLabel(caption + ":"), 10))
            lab = self._font(ElidedLabel("—") if key in ("file", "alarm") else QtWidgets.QLabel("—"),
                             14 if key in ("intensity", "gaps") else 11)
            small.addWidget(lab, 2 if key in ("file", "alarm") else 0)
            small.addSpacing(18)
            self.labels[key] = lab
        grid.addLayout(small, 2, 0, 1, self.percent_col + 1)
        outer.addLayout(grid)

    @staticmethod
    def _font(w: QtWidgets.QWidget, pt: int, bold: bool = False) -> QtWidgets.QWidget:
        f = w.font()
        f.setPointSize(pt)
        f.setBold(bold)
        w.setFont(f)
        return w

    def acknowledge(self) -> None:
        """Hide the alarm banner until the next alarm (the alarm stays in 'last alarm')."""
        self.acknowledged = self._n_alarms
        self.dirty = True

    def update_from(self, model: DisplayModel, st: StatusText, theme: Theme, field_name: str) -> None:
        self._n_alarms = sum(e.kind == "alarm" for e in model.events)
        for key, lab in self.labels.items():
            text = getattr(st, key)
            lab.setText(text.split(" (")[0] if key == "state" else text)  # the reason is in the banner
        self._colour(self.labels["gaps"], theme.alarm if st.gaps_alarm else theme.foreground)
        self._colour(self.labels["alarm"], theme.alarm if st.alarm != "none" else theme.foreground)
        state_colour = theme.alarm if st.state == "PAUSED" else theme.foreground
        self._colour(self.labels["state"], state_colour)
        for pos, p in enumerate(model.pathways):
            lab = self.percent_labels.get(p)
            if lab is None:
                lab = self.percent_labels[p] = self._font(QtWidgets.QLabel(), 26, bold=True)
                self.percent_row.addWidget(lab)
            pct = live_percent(model, p, field_name)
            lab.setText(f"S{p + 1}  {pct:.0f} %" if math.isfinite(pct) else f"S{p + 1}  —")
            self._colour(lab, pathway_colour(pos))
        b = banner_for(model, self.acknowledged)
        if b != self.banner or theme is not self.theme:
            self.banner, self.theme = b, theme
            self.banner_box.setVisible(bool(b.kind))
            self.banner_label.setText(b.text)
            bg, fg = BANNER_COLOURS.get(b.kind, (theme.background, theme.foreground))
            self.banner_box.setStyleSheet(f"QFrame {{ background-color: {bg}; border-radius: 4px; }}"
                                          f" QLabel {{ color: {fg}; background: transparent; }}"
                                          f" QPushButton {{ color: {fg}; border: 2px solid {fg};"
                                          f" padding: 4px 12px; background: transparent; }}")
            self.ack_button.setVisible(b.kind == "alarm")
            self.close_button.setVisible(b.kind == "ended")

    @staticmethod
    def _colour(lab: QtWidgets.QLabel, colour: str) -> None:
        """Set a label's colour only when it changes (setStyleSheet restyles: slow)."""
        if lab.property("colour") != colour:
            lab.setProperty("colour", colour)
            lab.setStyleSheet(f"color: {colour};")
