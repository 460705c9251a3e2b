"""MEA mode in the recording (format 1.4, docs/file-format.md §5b): the layout and every
electrode's measurements.

``/samples`` already holds every electrode (one column each, int16 counts + the root scale
attributes). The ``/mea`` group adds:

* ``/mea/electrodes`` — one row per AI column: ``column``, ``electrode`` (number on the grid),
  ``row``, ``col`` (0-based from the top left), ``x_um``, ``y_um``, ``channel`` (physical AI),
  ``role`` (``field`` | ``recording`` | ``stimulating``); attributes ``rows``, ``cols``,
  ``pitch_um``, ``field_electrode``, ``layout`` (the JSON of :class:`rig.core.mea.MEALayout`);
* ``/mea/measurements`` — one row per electrode and pulse of every sweep: ``sweep_index``,
  ``pulse``, ``electrode``, ``column``, ``pathway``, ``phase``, ``sample``, ``analysis``, then the
  detector's fields (as ``/measurements``).

A sweep's rows are written before the sweep is listed (flushed with its samples): rows of a sweep
that is not listed, and rows with ``electrode`` 0 (zeros a full disk left), are not data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from rig import detector
from rig.core.mea import MEALayout, MEAMeasured
from rig.detector.online import AVERAGED_KEYS
from rig.storage.layout import MEASUREMENT_KEY_DTYPE

GROUP = "mea"
ELECTRODES = "mea/electrodes"
MEASUREMENTS = "mea/measurements"
DATASETS = (ELECTRODES, MEASUREMENTS)

ELECTRODE_DTYPE = np.dtype([("column", "i4"), ("electrode", "i4"), ("row", "i4"), ("col", "i4"), ("x_um", "f8"),
                            ("y_um", "f8"), ("channel", "S32"), ("role", "S16")])
_KEYS = [("sweep_index", "i8"), ("pulse", "i4"), ("electrode", "i4"), ("column", "i4"), ("pathway", "i4"),
         ("phase", "i4"), ("sample", "i8"), ("analysis", "i4")]
# every key of a /measurements row but the averaged ones (an electrode's rows are single sweeps)
assert {k for k, _ in MEASUREMENT_KEY_DTYPE} - {k for k, _ in AVERAGED_KEYS} <= {k for k, _ in _KEYS}
MEA_MEASUREMENT_DTYPE = np.dtype(_KEYS + [(n, detector.MEASUREMENT_DTYPE.fields[n][0])
                                          for n in detector.MEASUREMENT_DTYPE.names])


def electrode_table(layout: MEALayout) -> np.ndarray:
    t = np.zeros(layout.n, dtype=ELECTRODE_DTYPE)
    for k, e in enumerate(layout.electrodes):
        r, c = layout.position(e)
        x, y = layout.xy_um(e)
        ch = layout.channels[k] if k < len(layout.channels) else ""
        t[k] = (k, e, r, c, x, y, ch.encode()[:32], layout.role(e).encode())
    return t


def create(f: h5py.File, layout: MEALayout) -> None:
    """The ``/mea`` group, its layout and the empty, growable measurement table (before SWMR)."""
    g = f.create_group(GROUP)
    for k, v in (("rows", layout.rows), ("cols", layout.cols), ("pitch_um", layout.pitch_um),
                 ("field_electrode", layout.field_electrode), ("layout", layout.to_json())):
        g.attrs[k] = v
    t = electrode_table(layout)
    g.create_dataset("electrodes", data=t, maxshape=(len(t),), chunks=(len(t),))  # chunked: SWMR readers
    g.create_dataset("measurements", shape=(0,), maxshape=(None,), dtype=MEA_MEASUREMENT_DTYPE,
                     chunks=(max(256, 4 * layout.n),))


def rows(doc: MEAMeasured, layout: MEALayout) -> np.ndarray:
    """``/mea/measurements`` rows of one sweep (electrode-major, pulses within)."""
    rec = doc.records
    n_el, n_p = rec.shape
    out = np.zeros(n_el * n_p, dtype=MEA_MEASUREMENT_DTYPE)
    out["sweep_index"], out["pathway"], out["phase"] = doc.sweep_index, doc.pathway, doc.phase
    out["sample"], out["analysis"] = doc.sample, doc.analysis
    out["pulse"] = np.tile(np.arange(n_p), n_el)
    out["column"] = np.repeat(np.arange(n_el), n_p)
    out["electrode"] = np.repeat(np.asarray(layout.electrodes[:n_el]), n_p)
    flat = rec.reshape(-1)
    for name in rec.dtype.names:
        out[name] = flat[name]
    return out


@dataclass
class MEAData:
    """The MEA part of a recording: ``layout`` and the measurement rows of listed sweeps."""

    layout: MEALayout
    electrodes: np.ndarray
    measurements: np.ndarray


def read(rec) -> MEAData | None:
    """The MEA part of a :class:`rig.storage.Recording` (None: not an MEA recording)."""
    g = rec.f.get(GROUP)
    if not isinstance(g, h5py.Group) or "measurements" not in g or "electrodes" not in g:
        return None
    d = g["measurements"]
    if rec.f.swmr_mode:
        d.refresh()
    layout = MEALayout.from_dict(json.loads(g.attrs["layout"]))
    m = d[:]
    m = m[(m["electrode"] >= 1) & (m["sweep_index"] >= 0) & (m["sweep_index"] < rec.n_sweeps)]
    return MEAData(layout, g["electrodes"][:], m)


def copy(rec, out: h5py.File, new_index: dict[int, int]) -> int:
    """``rig recover``: the ``/mea`` group into ``out`` with the kept sweeps renumbered; rows copied."""
    data = read(rec)
    if data is None:
        return 0
    create(out, data.layout)
    m = data.measurements[np.isin(data.measurements["sweep_index"], list(new_index))].copy()
    m["sweep_index"] = [new_index[int(i)] for i in m["sweep_index"]]
    out[MEASUREMENTS].resize(len(m), axis=0)
    out[MEASUREMENTS][:] = m
    return len(m)


def measured_docs(rec, data: MEAData) -> list[MEAMeasured]:
    """The recording's MEA rows as the documents a run streamed (``rig view``: the LTP map)."""
    m = data.measurements
    out = []
    n_el = data.layout.n
    order = np.lexsort((m["pulse"], m["column"], m["sweep_index"]))
    m = m[order]
    starts = np.flatnonzero(np.r_[True, np.diff(m["sweep_index"]) != 0]) if len(m) else np.zeros(0, int)
    for a, b in zip(starts, [*starts[1:], len(m)], strict=True):
        rows = m[a:b]
        if len(rows) % n_el:
            continue  # not every electrode: not a sweep of this layout
        rec_ = np.zeros((n_el, len(rows) // n_el), dtype=detector.MEASUREMENT_DTYPE)
        for name in detector.MEASUREMENT_DTYPE.names:
            rec_[name] = rows[name].reshape(rec_.shape)
        i = int(rows["sweep_index"][0])
        st = rec.sweep_table[i]
        out.append(MEAMeasured(i, int(st["pathway"]), int(st["phase"]), int(st["stim_sample"]),
                               st["kind"].decode(errors="replace"), rec_, int(rows["analysis"][0])))
    return out
