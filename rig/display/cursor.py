"""The viewer's cursor linking the time course and the sweep browser (``rig view``): a vertical
line and a ring on the browsed sweep's point, and a click on the time course that selects the
nearest point's sweep (GUI thread only)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from rig.display.model import DisplayModel


def nearest_sweep(model: DisplayModel, field_name: str, t_min: float, y: float,
                  view: tuple[tuple[float, float], tuple[float, float]]) -> int | None:
    """The sweep index of the time-course point nearest (t_min, y), distances in view fractions."""
    (x0, x1), (y0, y1) = view
    sx, sy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    best, best_d = None, math.inf
    for p in model.pathways:
        if p not in model.time_course:
            continue
        xs, ys, _ = model.time_course_xy(p, field_name)
        sweeps = _sweeps_of(model, p, field_name, len(xs))
        if not len(xs) or sweeps is None:
            continue
        d = ((xs - t_min) / sx) ** 2 + ((ys - y) / sy) ** 2
        k = int(np.argmin(d))
        if d[k] < best_d and sweeps[k] >= 0:
            best, best_d = int(sweeps[k]), float(d[k])
    return best


def _sweeps_of(model: DisplayModel, p: int, field_name: str, n: int) -> np.ndarray | None:
    """Sweep index of each point :meth:`DisplayModel.time_course_xy` returns."""
    r = model.result(p, field_name)
    if r.baseline_mean and len(r.sweep) == n:
        return np.asarray(r.sweep)
    from rig.analysis.results import valid

    tc = model.time_course[p]
    s = tc["sweep"][valid(tc["flags"], tc[field_name])]
    return s if len(s) == n else None


def point_of_sweep(model: DisplayModel, field_name: str, sweep: int) -> tuple[float, float] | None:
    """(t min, value) of ``sweep`` in the time course, or None (not a time-course sweep)."""
    for p in model.pathways:
        if p not in model.time_course:
            continue
        xs, ys, _ = model.time_course_xy(p, field_name)
        sweeps = _sweeps_of(model, p, field_name, len(xs))
        if sweeps is not None:
            hit = np.flatnonzero(sweeps == sweep)
            if hit.size:
                return float(xs[hit[0]]), float(ys[hit[0]])
    return None


class TimeCourseCursor:
    """Cursor on ``plot``; ``on_pick(sweep)`` is called with the sweep of a clicked point."""

    def __init__(self, plot: pg.PlotItem, model: DisplayModel, field: Callable[[], str],
                 on_pick: Callable[[int], None]) -> None:
        self.plot, self.model, self.field, self.on_pick = plot, model, field, on_pick
        self.line = pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen("#E69F00", width=2))
        self.ring = pg.ScatterPlotItem(size=16, symbol="o", pen=pg.mkPen("#E69F00", width=3), brush=None)
        for item in (self.line, self.ring):
            item.setZValue(50)
            item.setVisible(False)
            plot.addItem(item)
        plot.scene().sigMouseClicked.connect(self._clicked)

    def show_sweep(self, sweep: int) -> bool:
        """Put the cursor on ``sweep``'s point; False (hidden) when the sweep has none."""
        pt = point_of_sweep(self.model, self.field(), sweep)
        self.line.setVisible(pt is not None)
        self.ring.setVisible(pt is not None)
        if pt is not None:
            self.line.setValue(pt[0])
            self.ring.setData([pt[0]], [pt[1]])
        return pt is not None

    def _clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = self.plot.vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        pos = vb.mapSceneToView(event.scenePos())
        self.pick_at(pos.x(), pos.y())

    def pick_at(self, t_min: float, y: float) -> int | None:
        """Select the sweep nearest (t_min, y) in view coordinates (a click lands here)."""
        sweep = nearest_sweep(self.model, self.field(), t_min, y, tuple(self.plot.vb.viewRange()))
        if sweep is not None:
            self.on_pick(sweep)
        return sweep
