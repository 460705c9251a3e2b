"""What the window's LTP map shows (MEA mode), as plain numpy state built from the document stream.

:class:`LtpMapModel` ``.apply(doc)`` takes RunStart, PhaseStart, :class:`~rig.core.mea.MEAMeasured`
and RunStop. Per electrode it keeps the first pulse's slope (the map's method), amplitude, noise and
flags of every sweep; :meth:`LtpMapModel.electrodes` gives each electrode's result through
:func:`rig.analysis.results.pathway_result` and :func:`rig.analysis.mea_results.classify` — the
definitions of ``rig summary``. The colour of an electrode:

* while recording: its mean % of baseline over the last :data:`LIVE_MIN` minutes of test sweeps
  (≈ 100 % during the baseline), updated every sweep;
* once the run has ended: its result (the last 10 min after the baseline), as ``rig summary``.

Grey: not responding (yet); "S": stimulating. No Qt here (:mod:`rig.display.ltp_map` draws it).
"""

from __future__ import annotations

import math

import numpy as np

from rig.analysis import results
from rig.analysis.mea_results import DEFAULT_SETTINGS, ElectrodeResult, MapSettings, classify, fraction
from rig.core.documents import PhaseStart, RunStart, RunStop
from rig.core.mea import MEALayout, MEAMeasured

LIVE_MIN = 2.0  # the live colour: mean % of baseline over the last 2 min
COLOUR_LIMITS = (50.0, 100.0, 200.0)  # % of baseline at the blue end, white, the red end
GREY = (0.55, 0.55, 0.55, 1.0)
EMPTY = (0.0, 0.0, 0.0, 0.0)
_NOT_INDUCTION = ("test", "paired", "io")  # sweep kinds that are not an induction


def diverging_rgba(pct: float) -> tuple[float, float, float, float]:
    """Blue (below 100 %) – white (100 %) – red (above), clipped to :data:`COLOUR_LIMITS`."""
    lo, mid, hi = COLOUR_LIMITS
    if not math.isfinite(pct):
        return GREY
    if pct >= mid:
        f = min(1.0, (pct - mid) / (hi - mid))
        return (1.0 - 0.30 * f, 1.0 - 0.90 * f, 1.0 - 0.85 * f, 1.0)  # → (0.70, 0.10, 0.15)
    f = min(1.0, (mid - pct) / (mid - lo))
    return (1.0 - 0.90 * f, 1.0 - 0.60 * f, 1.0 - 0.30 * f, 1.0)  # → (0.10, 0.40, 0.70)


class _Series:
    """Growable per-sweep arrays of one pathway: one column per electrode."""

    FIELDS = ("slope", "amplitude", "noise")

    def __init__(self, n_el: int, capacity: int = 512) -> None:
        self.n = 0
        self.n_el = n_el
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        old = getattr(self, "a", None)
        self.a = {f: np.full((cap, self.n_el), np.nan) for f in self.FIELDS}
        self.a["flags"] = np.zeros((cap, self.n_el), dtype=np.int64)
        for k in ("t_s", "phase", "sweep"):
            self.a[k] = np.zeros(cap)
        self.a["is_test"] = np.zeros(cap, dtype=bool)
        if old is not None:
            for k, v in old.items():
                self.a[k][: self.n] = v[: self.n]

    def append(self, t_s: float, phase: int, sweep: int, is_test: bool, rec: np.ndarray, field: str) -> None:
        if self.n == self.a["t_s"].shape[0]:
            self._alloc(2 * self.n)
        i = self.n
        self.a["t_s"][i], self.a["phase"][i], self.a["sweep"][i], self.a["is_test"][i] = t_s, phase, sweep, is_test
        first = rec[:, 0]
        self.a["slope"][i], self.a["amplitude"][i] = first[field], first["amplitude_mV"]
        self.a["noise"][i], self.a["flags"][i] = first["noise_mV"], first["flags"]
        self.n += 1

    def __getitem__(self, k: str) -> np.ndarray:
        return self.a[k][: self.n]


class LtpMapModel:
    """The LTP map of one MEA run (``layout``), for the pathway that is induced (the first one
    measured until an induction names another)."""

    def __init__(self, layout: MEALayout, settings: MapSettings = DEFAULT_SETTINGS) -> None:
        self.layout = layout
        self.settings = settings
        self.fs = 1.0
        self.phases: list[tuple[int, str, float]] = []  # (index, kind, start s)
        self.series: dict[int, _Series] = {}
        self.pathway: int | None = None
        self._induced = False
        self.ended = False
        self.version = 0  # bumped by every document that changes the picture
        self._cache: tuple[int, list[ElectrodeResult]] | None = None

    def apply(self, doc: object) -> None:
        if isinstance(doc, MEAMeasured):
            if doc.records is None or doc.records.size == 0:
                return
            s = self.series.setdefault(doc.pathway, _Series(self.layout.n))
            s.append(doc.sample / self.fs, doc.phase, doc.sweep_index, doc.kind in results.RESULT_SWEEP_KINDS,
                     doc.records, self.settings.field)
            if doc.kind not in _NOT_INDUCTION and not self._induced:  # the map follows the induced pathway
                self.pathway, self._induced = doc.pathway, True
            elif self.pathway is None and doc.kind == "test":
                self.pathway = doc.pathway
        elif isinstance(doc, PhaseStart):
            self.phases.append((doc.index, doc.kind, doc.sample / self.fs))
        elif isinstance(doc, RunStart):
            self.fs = float(doc.sample_rate_hz)
        elif isinstance(doc, RunStop):
            self.ended = True
        else:
            return
        self.version += 1

    def electrodes(self) -> list[ElectrodeResult]:
        """Each electrode's result so far (electrode order), cached until the next document."""
        if self._cache is not None and self._cache[0] == self.version:
            return self._cache[1]
        s = self.series.get(self.pathway) if self.pathway is not None else None
        ref = results.reference_baseline_phase((i, k) for i, k, _ in self.phases)
        out = []
        lay = self.layout
        for e in sorted(lay.electrodes):
            c = lay.column(e)
            per = {}
            for f in _Series.FIELDS:
                if s is None:
                    t = y = fl = ph = np.zeros(0)
                    end, cnt = 0.0, np.zeros(0, bool)
                else:
                    t, y, fl, ph, cnt = s["t_s"], s[f][:, c], s["flags"][:, c], s["phase"], s["is_test"]
                    end = float(t[-1]) if len(t) else 0.0
                per[f] = results.pathway_result(self.pathway or 0, t, y, fl, ph, ref, end, counts=cnt)
            out.append(classify(e, lay.role(e), per["slope"], per["amplitude"], per["noise"], self.settings))
        self._cache = (self.version, out)
        return out

    def value(self, r: ElectrodeResult) -> float:
        """The electrode's colour value (% of baseline): live, the last :data:`LIVE_MIN` min; at the end, its result."""
        if self.ended:
            return r.percent if r.percent is not None else math.nan
        tc, pc = r.slope.t_min, r.slope.percent
        if not len(tc):
            return math.nan
        recent = pc[tc >= tc[-1] - LIVE_MIN]
        return float(np.mean(recent)) if len(recent) else math.nan

    def rgba(self) -> np.ndarray:
        """(rows, cols, 4) float image: colour of every responding electrode, grey for the others
        (stimulating included), transparent where the grid has no electrode."""
        lay = self.layout
        img = np.zeros((lay.rows, lay.cols, 4))
        img[:] = EMPTY
        for r in self.electrodes():
            i, j = lay.position(r.electrode)
            img[i, j] = diverging_rgba(self.value(r)) if r.responding else GREY
        return img

    def counts(self) -> dict:
        return fraction(self.electrodes(), self.settings)
