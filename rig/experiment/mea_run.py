"""MEA mode in a run: every electrode of every sweep measured in one numba call.

The engine stays a single-field engine: it measures the field electrode (AI column 0) as in any
recording — closed loop, time course, result. :func:`attach` adds one derived-document function to
its fanout (:class:`rig.core.subscribers.Fanout`): each :class:`~rig.core.documents.Sweep` is
followed, before its ``Measured``, by a :class:`~rig.core.mea.MEAMeasured` with every electrode's
records (:func:`rig.detector.multichannel.measure_channels`, the windows the engine uses at that
moment and their analysis version). Storage writes them with the sweep; the window's LTP map and
any observer receive them like every other document.
"""

from __future__ import annotations

import numpy as np

from rig.core.documents import Sweep
from rig.core.mea import MEALayout, MEAMeasured
from rig.detector.multichannel import measure_channels
from rig.detector.multichannel import warm_up as _warm_up


class SweepMeasurer:
    """``fn(doc)``: the MEAMeasured of a Sweep (nothing for any other document)."""

    def __init__(self, layout: MEALayout, engine) -> None:
        self.layout = layout
        self.engine = engine
        self.scale = np.ascontiguousarray(np.asarray(engine.scaling.mV_per_count, dtype=np.float64)[: layout.n])
        self.calls = 0
        _warm_up()  # compiled (or loaded from the cache) before the first sweep, not during it

    def __call__(self, doc: object) -> tuple:
        if not isinstance(doc, Sweep):
            return ()
        eng = self.engine
        counts = doc.counts[: self.layout.n]
        pulses = np.asarray(doc.pulse_samples, dtype=np.int64) - doc.start_sample
        records = measure_channels(counts, self.scale, pulses, eng.fs, eng.windows.of(doc.pathway))
        self.calls += 1
        return (MEAMeasured(doc.index, doc.pathway, doc.phase, doc.stim_sample, doc.kind, records,
                            eng.versions.version),)


def attach(engine, layout: MEALayout | None) -> SweepMeasurer | None:
    """Measure every electrode of each sweep of ``engine`` (MEA mode); nothing without a layout."""
    if layout is None:
        return None
    m = SweepMeasurer(layout, engine)
    engine.fanout.derived.append(m)
    return m
