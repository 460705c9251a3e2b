"""The plots of the rig window: sweep panel, time course, I/O view (pyqtgraph, GUI thread only).

Each panel keeps its pyqtgraph items and updates them from a :class:`DisplayModel` in
``update(model)``, touching only what changed since the last call (the model's version counters).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from rig.display.model import DisplayModel
from rig.display.theme import (
    DARK,
    SWEEP_COLOURS,
    WINDOW_COLOURS,
    Theme,
    pathway_colour,
    phase_colour,
)

SHOWN_WINDOWS = ("baseline", "volley", "slope", "peak")  # draggable; pop_spike is not shown
DEFAULT_ARTIFACT_MS = (0.0, 0.8)


def detector_windows_ms() -> dict[str, tuple[float, float]]:
    """The detector's default windows (ms from the stimulus) that the sweep panel shows as
    draggable regions (those of :data:`SHOWN_WINDOWS` the detector has)."""
    from rig.detector.measurement import Windows

    d = Windows().to_dict()
    return {k: (float(d[k][0]), float(d[k][1])) for k in SHOWN_WINDOWS if k in d}


def shown_windows_ms(windows: dict) -> dict[str, tuple[float, float]]:
    """The draggable windows (:data:`SHOWN_WINDOWS`) of a ``Windows.to_dict()``, ms from the stimulus."""
    return {k: (float(windows[k][0]), float(windows[k][1])) for k in SHOWN_WINDOWS
            if isinstance(windows.get(k), (list, tuple)) and len(windows[k]) == 2}


def detector_artifact_ms() -> tuple[float, float]:
    """The detector's blanked artifact window (ms), shaded, not movable."""
    from rig.detector.measurement import Windows

    a = Windows().to_dict().get("artifact", DEFAULT_ARTIFACT_MS)
    return float(a[0]), float(a[1])


def _colour(hex_colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha


def shade(hex_colour: str, theme: Theme, alpha: int | None = None) -> tuple[int, int, int]:
    """``hex_colour`` at ``alpha``/255 over the theme background, as an *opaque* colour.

    Translucent full-height rectangles were the costliest part of a frame in software
    rendering (alpha blending); pre-blended opaque fills look the same where regions do not
    overlap (where they do, the later region is drawn on top)."""
    a = (theme.shade_alpha if alpha is None else alpha) / 255.0
    fg, bg = _colour(hex_colour), _colour(theme.background)
    return tuple(int(round(a * f + (1 - a) * b)) for f, b in zip(fg[:3], bg[:3], strict=True))


def style_plot(plot: pg.PlotItem, theme: Theme, font_pt: int = 11) -> None:
    """Axis colours and font for ``theme``."""
    font = pg.QtGui.QFont()
    font.setPointSize(font_pt)
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        ax.setPen(pg.mkPen(theme.foreground))
        ax.setTextPen(pg.mkPen(theme.foreground))
        ax.setTickFont(font)
        ax.label.setDefaultTextColor(pg.mkColor(theme.foreground))
    plot.titleLabel.item.setDefaultTextColor(pg.mkColor(theme.foreground))


def response_y_range(traces: list[tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]],
                     x_range_ms: tuple[float, float], artifact_ms: tuple[float, float]
                     ) -> tuple[float, float] | None:
    """(min, max) mV of the traces (x ms, y mV, pulse times ms or None = one pulse at 0) inside
    ``x_range_ms`` with the artifact window after every pulse left out: the y range follows the
    fEPSP, not the artifact, also in a train."""
    a0, a1 = artifact_ms
    lo, hi = math.inf, -math.inf
    for x, y, pulses in traces:
        if x is None or y is None or x.shape != y.shape:
            continue
        i0, i1 = np.searchsorted(x, x_range_ms)
        xs, ys = x[i0:i1], y[i0:i1]
        keep = np.isfinite(ys)
        for p in (0.0,) if pulses is None or not len(pulses) else pulses:
            keep &= (xs < p + a0) | (xs > p + a1)
        if keep.any():
            lo, hi = min(lo, float(ys[keep].min())), max(hi, float(ys[keep].max()))
    return (lo, hi) if lo <= hi else None


class SweepPlot:
    """One pathway's sweep plot: latest, running average, baseline average, windows, markers."""

    def __init__(self, plot: pg.PlotItem, title: str, windows_ms: dict[str, tuple[float, float]],
                 artifact_ms: tuple[float, float], movable: bool,
                 on_window_moved: Callable[[str, pg.LinearRegionItem], None],
                 x_range_ms: tuple[float, float] = (-5.0, 30.0)) -> None:
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", "time from stimulus (ms)")
        plot.setLabel("left", "field potential (mV)")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        # Fixed x range (clip-to-view would otherwise pin auto-range to the first view); y is
        # scaled to the response, artifact excluded, until the user zooms or pans.
        plot.setXRange(*x_range_ms, padding=0)
        plot.enableAutoRange(x=False, y=False)
        self.auto_y = True
        plot.vb.sigRangeChangedManually.connect(self._user_range)
        self.artifact_ms = artifact_ms
        self.artifact = pg.LinearRegionItem(artifact_ms, movable=False)
        self.artifact.setZValue(-1)  # above the windows (its label must not hide under them), below the traces
        plot.addItem(self.artifact)
        self.regions: dict[str, pg.LinearRegionItem] = {}
        # narrower windows on top, so the slope window can be grabbed inside the peak window
        by_width = sorted(windows_ms, key=lambda k: windows_ms[k][1] - windows_ms[k][0],
                          reverse=True)
        for name, rng in windows_ms.items():
            r = pg.LinearRegionItem(rng, movable=movable)
            r.setZValue(-19 + by_width.index(name))
            r.window_name = name
            r.sigRegionChangeFinished.connect(functools.partial(on_window_moved, name))
            plot.addItem(r)
            self.regions[name] = r
        # vertical labels hanging from the top of each band's left edge (the wide peak band lies under
        # the slope band there: its label hangs from its right edge); the narrow artifact's lower down
        self.band_labels = [pg.InfLineLabel(r.lines[1 if name == "peak" else 0], name,
                                            position=0.7 if name == "artifact" else 0.93, rotateAxis=(1, 0),
                                            anchors=[(1, 0), (1, 0)])
                            for name, r in [("artifact", self.artifact), *self.regions.items()]]
        self.baseline = plot.plot(pen=pg.mkPen(DARK.foreground, width=2, style=QtCore.Qt.DashLine),
                                  name="baseline")
        self.average = plot.plot(pen=pg.mkPen(SWEEP_COLOURS["average"], width=3), name="average")
        self.latest = plot.plot(pen=pg.mkPen(SWEEP_COLOURS["latest"], width=1), name="latest")
        self.slope_line = plot.plot(pen=pg.mkPen(SWEEP_COLOURS["slope"], width=3))
        self.markers = pg.ScatterPlotItem(size=12, symbol="x",
                                          pen=pg.mkPen(SWEEP_COLOURS["marker"], width=3),
                                          brush=pg.mkBrush(SWEEP_COLOURS["marker"]))
        plot.addItem(self.markers)
        self.version = -1

    def _user_range(self, *_: object) -> None:
        self.auto_y = False

    def rescale_y(self, traces: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> None:
        """Fit y to the traces (x ms, y mV, pulses ms) inside the visible x range."""
        (x0, x1), (v0, v1) = self.plot.vb.viewRange()
        span_y = response_y_range(traces, (x0, x1), self.artifact_ms)
        if span_y is not None:
            lo, hi = span_y
            span = hi - lo or 0.1
            # hysteresis: a new range only when the sweep leaves the view or fills < 60 % of it
            # (a range change re-renders the axis, the most expensive part of a frame offscreen)
            if lo < v0 or hi > v1 or span < 0.6 * (v1 - v0):
                pad = 0.1 * span
                self.plot.setYRange(lo - pad, hi + pad, padding=0)

    def apply_theme(self, theme: Theme) -> None:
        style_plot(self.plot, theme)
        self.baseline.setPen(pg.mkPen(theme.foreground, width=2, style=QtCore.Qt.DashLine))
        for lab in self.band_labels:
            lab.setColor(theme.foreground)
        a = theme.shade_alpha
        self.artifact.setBrush(pg.mkBrush(shade("#808080", theme, a + 30)))
        for name, r in self.regions.items():
            r.setBrush(pg.mkBrush(shade(WINDOW_COLOURS.get(name, "#808080"), theme)))
            r.setHoverBrush(pg.mkBrush(shade(WINDOW_COLOURS.get(name, "#808080"), theme, a + 50)))

    def set_windows(self, windows_ms: dict[str, tuple[float, float]]) -> None:
        """Move the regions without emitting a change (programmatic sync)."""
        for name, rng in windows_ms.items():
            r = self.regions.get(name)
            if r is not None and tuple(r.getRegion()) != tuple(rng):
                r.blockSignals(True)
                r.setRegion(rng)
                r.blockSignals(False)

    def update(self, model: DisplayModel, pathway: int,
               windows_ms: dict[str, tuple[float, float]]) -> None:
        v = model.sweeps.get(pathway)
        if v is None or v.latest is None or model.v_sweeps.get(pathway, 0) == self.version:
            return
        self.version = model.v_sweeps[pathway]
        self.latest.setData(v.x_ms, v.latest, skipFiniteCheck=True)
        if self.auto_y:
            self.rescale_y([(v.x_ms, v.latest, v.pulse_ms), (v.average_x_ms, v.average, None),
                            (v.average_x_ms, v.baseline, None)])
        if v.average is not None and v.n_average > 1:
            self.average.setData(v.average_x_ms, v.average, skipFiniteCheck=True)
        else:
            self.average.setData([], [])
        if v.baseline is not None:
            self.baseline.setData(v.average_x_ms, v.baseline, skipFiniteCheck=True)
        else:
            self.baseline.setData([], [])
        self._markers(model, pathway, v.x_ms, v.latest, v.latest_index, windows_ms)

    def _markers(self, model: DisplayModel, pathway: int, x: np.ndarray, y: np.ndarray,
                 sweep_index: int, windows_ms: dict[str, tuple[float, float]]) -> None:
        """Volley and peak (minimum in their windows) and the measured slope drawn through the
        latest sweep at the middle of the slope window."""
        meas = model.latest_measure.get(pathway)
        rec = meas[1] if meas is not None and meas[0] == sweep_index else None
        names = rec.dtype.names or () if rec is not None else ()
        slope = float(rec["slope_mV_per_ms"]) if "slope_mV_per_ms" in names else math.nan
        pts_x, pts_y = [], []
        for name, latency in (("volley", "volley_latency_ms"), ("peak", "peak_latency_ms")):
            if latency in names:  # where the detector found it
                t = float(rec[latency])
                if math.isfinite(t):
                    pts_x.append(t)
                    pts_y.append(float(np.interp(t, x, y)))
            elif rec is None and name in windows_ms:  # not measured: the minimum in the window
                a, b = windows_ms[name]
                i0, i1 = np.searchsorted(x, [a, b])
                if i1 > i0:
                    k = i0 + int(np.argmin(y[i0:i1]))
                    pts_x.append(x[k])
                    pts_y.append(y[k])
        self.markers.setData(pts_x, pts_y)
        if "slope" in windows_ms and math.isfinite(slope):
            a, b = windows_ms["slope"]
            xm = 0.5 * (a + b)
            ym = float(np.interp(xm, x, y))
            self.slope_line.setData([a, b], [ym + slope * (a - xm), ym + slope * (b - xm)])
        else:
            self.slope_line.setData([], [])


def short_label(e) -> str:
    """A marker's label, short enough that neighbours do not collide (the full text is listed)."""
    if e.kind == "operator":
        return e.label
    if e.kind == "alarm":
        return f"alarm: {e.data.get('alarm', '')}"
    if e.kind == "induction":
        d, n = e.data.get("pulses_delivered"), e.data.get("pulses_planned")
        return f"{e.data.get('kind', 'induction')} {d}/{n}" if d is not None else "induction"
    return e.kind.replace("_", " ")


class TimeCoursePanel:
    """Slope or amplitude vs experiment time per pathway (% of baseline), or the paired-pulse ratio
    of paired test pulses; phases, events."""

    MAX_SYMBOLS = 600  # per pathway: beyond this the dots overlap at window width and cost O(n) per update

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.setLabel("bottom", "experiment time (min)")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.addLegend(offset=(-10, 10))
        self.field = "slope"
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.hundred = pg.InfiniteLine(100.0, angle=0, pen=pg.mkPen("#888888", width=2,
                                                                   style=QtCore.Qt.DashLine))
        plot.addItem(self.hundred)
        self.phase_regions: list[pg.LinearRegionItem] = []
        self.phase_lines: list[pg.InfiniteLine] = []
        self.event_lines: list[pg.InfiniteLine] = []
        self._versions = (-1, -1, -1, -1.0)
        self._percent: bool | None = None
        self._drawn_n: dict[int, int] = {}  # points drawn per pathway
        self._pct: dict[int, bool] = {}
        self._ref: tuple | None = None
        self.theme: Theme | None = None

    def set_field(self, name: str) -> None:
        self.field = name
        self._versions = (-1, -1, -1, -1.0)
        self._drawn_n.clear()

    def apply_theme(self, theme: Theme) -> None:
        self.theme = theme
        style_plot(self.plot, theme)
        self.hundred.setPen(pg.mkPen(theme.muted, width=2, style=QtCore.Qt.DashLine))
        self._versions = (-1, -1, -1, -1.0)
        for r in self.phase_regions:
            self.plot.removeItem(r)
        for ln in self.phase_lines:
            self.plot.removeItem(ln)
        self.phase_regions, self.phase_lines = [], []

    def update(self, model: DisplayModel) -> None:
        now_min = model.elapsed_s / 60.0
        v = (model.v_time_course, model.v_phases, model.v_events, round(now_min, 2))
        if v == self._versions:
            return
        old = self._versions
        tc_changed, ph_changed, ev_changed = (v[i] != old[i] for i in range(3))
        self._versions = v
        if tc_changed:
            self._curves(model)
        self._phases(model, rebuild=ph_changed)
        if ev_changed:
            self._events(model)

    def _curves(self, model: DisplayModel) -> None:
        percent_any = False
        ref = (model.baseline_phase(), self.field)
        rescale = ref != self._ref  # a new baseline rescales every pathway
        self._ref = ref
        for pos, p in enumerate(model.pathways):
            if p not in model.time_course:
                continue
            n = model.time_course[p].n
            if not rescale and self._drawn_n.get(p) == n:
                percent_any |= bool(self._pct.get(p))
                continue
            self._drawn_n[p] = n
            if p not in self.curves:
                c = pathway_colour(pos)
                self.curves[p] = self.plot.plot(
                    pen=pg.mkPen(c, width=2), symbol="o", symbolSize=6, symbolPen=None,
                    symbolBrush=pg.mkBrush(c), name=f"S{p + 1}")
            x, y, is_pct = model.time_course_xy(p, self.field, percent=self.field != "ppr")
            self._pct[p] = is_pct
            percent_any |= is_pct
            c = self.curves[p]
            if len(x) > self.MAX_SYMBOLS and c.opts["symbol"] is not None:
                c.setSymbol(None)  # scatter symbols cost O(n) Python per update
            c.setData(x, y, connect="finite")
        if percent_any != self._percent:
            self._percent = percent_any
            unit = {"slope": "mV/ms", "ppr": "response 2 / response 1"}.get(self.field, "mV")
            label = f"{self.field} (% of baseline)" if percent_any else f"{self.field} ({unit})"
            self.plot.setLabel("left", label)
            self.hundred.setVisible(percent_any)

    def _phases(self, model: DisplayModel, rebuild: bool) -> None:
        spans = model.phase_spans()
        theme = self.theme or DARK
        fg = theme.foreground
        if rebuild or len(self.phase_regions) != len(spans):
            for r in self.phase_regions:
                self.plot.removeItem(r)
            for ln in self.phase_lines:
                self.plot.removeItem(ln)
            self.phase_regions, self.phase_lines = [], []
            for i, (ph, a, b) in enumerate(spans):
                r = pg.LinearRegionItem((a / 60, b / 60), movable=False,
                                        brush=pg.mkBrush(shade(phase_colour(ph.kind), theme)),
                                        pen=pg.mkPen(None))
                r.setZValue(-20)
                self.plot.addItem(r)
                self.phase_regions.append(r)
                induction = ph.kind.startswith("induction")
                pen = pg.mkPen(phase_colour(ph.kind), width=3 if induction else 1)
                ln = pg.InfiniteLine(a / 60, angle=90, pen=pen, label=ph.name,
                                     labelOpts={"position": 0.97 - 0.05 * (i % 2), "color": fg, "anchors":
                                                [(0, 0), (0, 0)]})
                self.plot.addItem(ln)
                self.phase_lines.append(ln)
        elif spans:
            ph, a, b = spans[-1]
            self.phase_regions[-1].setRegion((a / 60, b / 60))

    def _events(self, model: DisplayModel) -> None:
        events = model.marker_events()
        fg = self.theme.foreground if self.theme else "#cccccc"
        for k, e in enumerate(events[len(self.event_lines):], start=len(self.event_lines)):
            text = short_label(e)
            ln = pg.InfiniteLine(e.t_s / 60, angle=90,
                                 pen=pg.mkPen(fg, width=1, style=QtCore.Qt.DotLine),
                                 label=text if len(text) <= 28 else text[:27] + "…",
                                 labelOpts={"position": 0.03 + 0.2 * (k % 4), "color": fg, "rotateAxis": (1, 0),
                                            "anchors": [(0, 1), (0, 1)]})
            self.plot.addItem(ln)
            self.event_lines.append(ln)
