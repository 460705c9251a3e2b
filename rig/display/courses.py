"""The smaller plots of the rig window: the I/O view, and the fiber-volley and paired-pulse-ratio
time courses under the main time course (pyqtgraph, GUI thread only)."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg

from rig.display.io_fit import fit_io_curve
from rig.display.model import DisplayModel
from rig.display.panels import style_plot
from rig.display.theme import Theme, pathway_colour

MAX_SYMBOLS = 300  # per curve, as the main time course (its points are smaller)


class SideCourses:
    """Fiber volley (mV) per pathway vs time, and the paired-pulse ratio once a sweep carries one
    (its plot is shown only then). Both x-linked to the main time course."""

    def __init__(self, volley: pg.PlotItem, ppr: pg.PlotItem, ppr_visible: callable) -> None:
        self.volley, self.ppr = volley, ppr
        volley.setLabel("left", "fiber volley (mV)")
        ppr.setLabel("left", "PPR")
        ppr.setLabel("bottom", "experiment time (min)")
        for p in (volley, ppr):
            p.getAxis("left").enableAutoSIPrefix(False)
            p.getAxis("left").setWidth(60)
        self.show_ppr = ppr_visible
        self.curves: dict[tuple[str, int], pg.PlotDataItem] = {}
        self.version = -1
        self._at = -math.inf

    def apply_theme(self, theme: Theme) -> None:
        style_plot(self.volley, theme, 9)
        style_plot(self.ppr, theme, 9)

    MIN_INTERVAL_S = 0.5  # secondary plots: at most 2 redraws a second (the main time course is live)

    def update(self, model: DisplayModel) -> None:
        now = time.monotonic()
        if model.v_time_course == self.version or (now - self._at < self.MIN_INTERVAL_S and model.stop is None):
            return
        self.version, self._at = model.v_time_course, now
        any_ppr = False
        for pos, p in enumerate(model.pathways):
            tc = model.time_course.get(p)
            if tc is None or tc.n == 0:
                continue
            t = tc["t_s"] / 60.0
            for name, plot in (("volley", self.volley), ("ppr", self.ppr)):
                y = tc[name]
                ok = np.isfinite(y)
                if name == "ppr":
                    any_ppr |= bool(ok.any())
                key = (name, p)
                if key not in self.curves:
                    c = pathway_colour(pos)
                    self.curves[key] = plot.plot(pen=pg.mkPen(c, width=1), symbol="o", symbolSize=4,
                                                 symbolPen=None, symbolBrush=pg.mkBrush(c))
                c = self.curves[key]
                if ok.sum() > MAX_SYMBOLS and c.opts["symbol"] is not None:
                    c.setSymbol(None)  # scatter symbols cost O(n) Python per update
                c.setData(t[ok], y[ok], connect="finite")
        self.show_ppr(any_ppr)


class IOPanel:
    """Input–output view: slope vs intensity per pathway with the fitted Boltzmann curve."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.setLabel("bottom", "stimulus intensity (µA)")
        plot.setLabel("left", "fEPSP slope (mV/ms)")
        self.points: dict[int, pg.ScatterPlotItem] = {}
        self.fits: dict[int, pg.PlotDataItem] = {}
        self.version = -1

    def apply_theme(self, theme: Theme) -> None:
        style_plot(self.plot, theme)

    def update(self, model: DisplayModel) -> None:
        if model.v_io == self.version:
            return
        self.version = model.v_io
        for pos, p in enumerate(model.pathways):
            pts = model.io_points.get(p)
            if not pts:
                continue
            c = pathway_colour(pos)
            if p not in self.points:
                self.points[p] = pg.ScatterPlotItem(size=9, pen=None, brush=pg.mkBrush(c))
                self.plot.addItem(self.points[p])
                self.fits[p] = self.plot.plot(pen=pg.mkPen(c, width=2))
            arr = np.asarray(pts, dtype=np.float64)
            self.points[p].setData(arr[:, 0], arr[:, 1])
            fit = fit_io_curve(arr[:, 0], arr[:, 1])
            if fit is not None:
                self.fits[p].setData(*fit)
