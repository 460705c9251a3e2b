"""The /mea group of a recording (format 1.4): written with its sweep by the writer from the document
stream, readable with plain h5py, and only rows of listed sweeps are data."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np

from rig import detector
from rig.core.documents import Measured, RunStart, RunStop, Sweep
from rig.core.mea import MEALayout, MEAMeasured
from rig.storage import RecordingWriter, open_recording
from rig.storage import mea as mea_store

LAYOUT = MEALayout(2, 3, 150.0, (5, 1, 2, 3, 4, 6), 5, {0: 2}, ("ai4", "ai0", "ai1", "ai2", "ai3", "ai5"))


def _sweep(i: int) -> Sweep:
    counts = (np.arange(6 * 200, dtype=np.int16).reshape(6, 200) + i)
    return Sweep(i, 0, 0, "test", 1000 * i, 1000 * i + 50, np.array([1000 * i + 50]), 100.0, 2, counts, time.time())


def _records(i: int) -> np.ndarray:
    r = np.zeros((6, 1), dtype=detector.MEASUREMENT_DTYPE)
    r["slope_mV_per_ms"][:, 0] = -0.1 * (np.arange(6) + 1) - i
    return r


def test_the_writer_stores_the_layout_and_every_electrode_with_its_sweep(tmp_path):
    path = tmp_path / "mea.h5"
    w = RecordingWriter(path, 6, {}, mea=LAYOUT)
    w(RunStart(20000.0, tuple(LAYOUT.channels), (0.0003,) * 6, (0,), "mea", 3000, time.time()))
    for i in range(3):
        w(_sweep(i))
        w(MEAMeasured(i, 0, 0, 1000 * i + 50, "test", _records(i)))
        w(Measured(i, 0, 0, 1000 * i + 50, _records(i)[0]))
    w(RunStop(3000, "completed"))
    with h5py.File(path, "r") as f:  # plain h5py, as docs/file-format.md §5b says
        assert f.attrs["format_version"] == "1.5"
        assert json.loads(f["mea"].attrs["layout"])["field_electrode"] == 5
        e = f["mea/electrodes"][:]
        assert e["electrode"].tolist() == [5, 1, 2, 3, 4, 6] and e["column"].tolist() == list(range(6))
        assert (e["row"][0], e["col"][0], e["x_um"][0], e["y_um"][0]) == (1, 1, 150.0, 150.0)
        assert [r.decode() for r in e["role"]] == ["field", "recording", "stimulating", "recording", "recording",
                                                   "recording"]
        m = f["mea/measurements"][:]
        assert len(m) == 18 and m["electrode"][:6].tolist() == [5, 1, 2, 3, 4, 6]
        assert np.allclose(m["slope_mV_per_ms"][6:12], -0.1 * np.arange(1, 7) - 1)
    # what a disk that filled up leaves (zero rows) and rows of a sweep never listed are not data
    with h5py.File(path, "a") as f:
        d = f["mea/measurements"]
        extra = np.zeros(8, dtype=d.dtype)
        extra["electrode"][4:] = 1
        extra["sweep_index"][4:] = 3  # sweep 3 was never listed
        d.resize(len(d) + 8, axis=0)
        d[-8:] = extra
    with open_recording(path) as rec:
        data = mea_store.read(rec)
        assert data.layout == LAYOUT and len(data.measurements) == 18
        docs = mea_store.measured_docs(rec, data)
        assert [d.sweep_index for d in docs] == [0, 1, 2] and docs[1].records.shape == (6, 1)
        assert np.array_equal(docs[2].records["slope_mV_per_ms"], _records(2)["slope_mV_per_ms"])


def test_a_recording_without_mea_has_no_group(tmp_path):
    path = tmp_path / "plain.h5"
    w = RecordingWriter(path, 1, {})
    w(RunStart(20000.0, ("ai0",), (0.0003,), (0,), "plain", 1000, time.time()))
    w(RunStop(1000, "completed"))
    with open_recording(path) as rec:
        assert mea_store.read(rec) is None and "mea" not in rec.f
