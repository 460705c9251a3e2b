"""The LTP map panel of the rig window (MEA mode): % of baseline per electrode on the array layout.

A dock beside the window's plots (:func:`attach`), fed by its own non-blocking subscriber
(:class:`LtpMapFeed`: a bounded queue, ``put_nowait`` on the acquisition thread, like the window's
:class:`~rig.display.feed.DisplayFeed`) and drained by its own QTimer in the GUI thread: the map is
redrawn when a sweep's measurements arrived, never slows the engine, and needs nothing of the
window but a place to dock. The picture (:mod:`rig.display.ltp_map_model`): one square per
electrode, colour = % of baseline (blue < 100 % < red), grey = not responding, ``S`` =
stimulating, a frame around the field electrode; the line under it counts responding and
potentiated electrodes.
"""

from __future__ import annotations

import math
import queue

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from rig.core.documents import PhaseStart, RunStart, RunStop
from rig.core.mea import MEALayout, MEAMeasured
from rig.display.ltp_map_model import LIVE_MIN, LtpMapModel
from rig.display.theme import Theme

_KINDS = (MEAMeasured, PhaseStart, RunStart, RunStop)


class LtpMapFeed:
    """Subscriber ``feed(doc)``: keeps the documents the map needs, never blocks (drops when full)."""

    def __init__(self, max_items: int = 100_000) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=max_items)
        self.dropped = 0

    def __call__(self, doc: object) -> None:
        if isinstance(doc, _KINDS):
            try:
                self.q.put_nowait(doc)
            except queue.Full:
                self.dropped += 1

    def drain(self) -> list[object]:
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out


class LtpMapPanel(QtWidgets.QDockWidget):
    """The dock: the map (an ImageItem on the grid, a label per electrode) and a status line."""

    def __init__(self, layout: MEALayout, feed: LtpMapFeed | None = None, *, refresh_hz: float = 4.0,
                 model: LtpMapModel | None = None) -> None:
        super().__init__("LTP map")
        self.setObjectName("ltp_map")
        self.model = model or LtpMapModel(layout)
        self.feed = feed
        self.frames = 0
        self._drawn = -1
        lay = layout
        body = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(body)
        v.setContentsMargins(2, 2, 2, 2)
        self.view = pg.GraphicsLayoutWidget()
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self._rect = QtCore.QRectF(-0.5, -0.5, lay.cols, lay.rows)  # one unit per electrode (after setImage)
        self.plot.addItem(self.image)
        for ax, n in (("bottom", lay.cols), ("left", lay.rows)):
            self.plot.getAxis(ax).setTicks([[(k, str(k + 1)) for k in range(n)]])
        self.plot.setLabel("bottom", f"column ({lay.pitch_um:g} µm pitch)")
        self.plot.setLabel("left", "row")
        self.plot.disableAutoRange()
        self.plot.setRange(xRange=(-0.5, lay.cols - 0.5), yRange=(-0.5, lay.rows - 0.5), padding=0.02)
        self.labels: dict[int, pg.TextItem] = {}
        for e in lay.electrodes:
            r, c = lay.position(e)
            t = pg.TextItem("S" if e in lay.stimulating else "", anchor=(0.5, 0.5), color=(0, 0, 0))
            t.setPos(c, r)
            self.plot.addItem(t)
            self.labels[e] = t
        fr, fc = lay.position(lay.field_electrode)
        frame = QtWidgets.QGraphicsRectItem(fc - 0.5, fr - 0.5, 1, 1)
        frame.setPen(pg.mkPen("k", width=2))
        self.plot.addItem(frame)
        v.addWidget(self.view, 1)
        self.status = QtWidgets.QLabel("waiting for the first sweep")
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        self.setWidget(body)
        self.setMinimumWidth(300)
        self.setMaximumWidth(520)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(max(1, int(1000 / refresh_hz)))
        self.timer.timeout.connect(self.tick)
        if feed is not None:
            self.timer.start()
        self.redraw()

    def apply_theme(self, theme: Theme) -> None:
        self.view.setBackground(theme.background)

    def tick(self) -> None:
        """Apply what the feed holds; redraw if anything changed (GUI thread, QTimer)."""
        if self.feed is not None:
            for doc in self.feed.drain():
                self.model.apply(doc)
        if self.model.version != self._drawn:
            self.redraw()

    def redraw(self) -> None:
        m = self.model
        self._drawn = m.version
        self.image.setImage(np.rint(m.rgba() * 255).astype(np.ubyte), autoLevels=False)
        self.image.setRect(self._rect)
        for r in m.electrodes():
            if r.role == "stimulating":
                continue
            val = m.value(r)
            self.labels[r.electrode].setText(f"{val:.0f}" if r.responding and math.isfinite(val) else "")
        c = m.counts()
        when = "result (last 10 min)" if m.ended else f"last {LIVE_MIN:g} min"
        if c["responding"]:
            frac = c["fraction_potentiated"]
            self.status.setText(
                f"% of baseline ({m.settings.method} slope), {when}: {c['responding']} of "
                f"{sum(r.role != 'stimulating' for r in m.electrodes())} electrodes respond"
                + (f"; potentiated (> {c['potentiated_percent']:g} %) {c['potentiated']} = {100 * frac:.0f} %"
                   if frac is not None else ""))
        elif m.version:
            self.status.setText("no electrode responds yet (grey: not responding, S: stimulating)")
        self.frames += 1


def attach(window: QtWidgets.QMainWindow, layout: MEALayout, feed: LtpMapFeed | None = None,
           model: LtpMapModel | None = None) -> LtpMapPanel:
    """Dock the LTP map on the right of ``window`` (a QMainWindow: the rig window or the viewer)."""
    panel = LtpMapPanel(layout, feed, model=model)
    theme = getattr(window, "theme", None)
    if theme is not None:
        panel.apply_theme(theme)
    window.addDockWidget(QtCore.Qt.RightDockWidgetArea, panel)
    return panel


def image_of(panel: LtpMapPanel) -> np.ndarray:
    """The RGBA image the panel shows (tests)."""
    return np.asarray(panel.image.image)
