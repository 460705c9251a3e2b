"""Writes the document stream to one HDF5 file in SWMR mode, flushed after every sweep."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import h5py
import numpy as np

from rig import detector
from rig.documents import Event, Measured, PhaseStart, Progress, RunStart, RunStop, Sweep
from rig.storage.layout import (
    CHUNK_ROWS,
    EVENT_DTYPE,
    FORMAT_VERSION,
    PHASE_DTYPE,
    STATUS_DTYPE,
    SWEEP_DTYPE,
    measurement_dtype,
)


def unique_path(path: Path) -> Path:
    """``path`` if free, else ``name-1.h5``, ``name-2.h5``, … (a recording is never overwritten)."""
    if not path.exists():
        return path
    k = 1
    while True:
        cand = path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not cand.exists():
            return cand
        k += 1


def _bytes(s: str, n: int) -> bytes:
    b = s.encode("utf-8")[:n]
    return b.decode("utf-8", "ignore").encode("utf-8")


class RecordingWriter:
    """A subscriber that records every document. Create with :meth:`create`, then pass it docs."""

    def __init__(self, path: Path, n_ai: int, provenance: dict, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.fs = 1.0
        # "x": never overwrite; libver latest for SWMR.
        self.f = h5py.File(self.path, "x", libver="latest")
        f = self.f
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["software"] = "ltp-rig"
        for k, v in provenance.items():
            f.attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
        self.n_ai = n_ai
        f.create_dataset("samples", shape=(0, n_ai), maxshape=(None, n_ai), dtype="i2",
                         chunks=(CHUNK_ROWS, n_ai))
        f.create_dataset("sweeps", shape=(0,), maxshape=(None,), dtype=SWEEP_DTYPE, chunks=(256,))
        f.create_dataset("pulses", shape=(0,), maxshape=(None,), dtype="i8", chunks=(1024,))
        self.meas_dtype = measurement_dtype(detector.MEASUREMENT_DTYPE)
        f.create_dataset("measurements", shape=(0,), maxshape=(None,), dtype=self.meas_dtype, chunks=(256,))
        f.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE, chunks=(256,))
        f.create_dataset("phases", shape=(0,), maxshape=(None,), dtype=PHASE_DTYPE, chunks=(64,))
        f.create_dataset("status", shape=(1,), dtype=STATUS_DTYPE)
        self.status = np.zeros(1, dtype=STATUS_DTYPE)
        self._started = False
        self.closed = False

    # -- helpers -----------------------------------------------------------------------------
    def _append(self, name: str, rows: np.ndarray) -> int:
        d = self.f[name]
        n0 = d.shape[0]
        d.resize(n0 + rows.shape[0], axis=0)
        d[n0:] = rows
        return n0

    def _flush(self) -> None:
        self.f["status"][0] = self.status[0]
        self.f.flush()
        if self.fsync:
            os.fsync(self.f.id.get_vfd_handle())

    # -- the subscriber ----------------------------------------------------------------------
    def __call__(self, doc: object) -> None:
        if self.closed:
            return
        if isinstance(doc, RunStart):
            self._start(doc)
        elif isinstance(doc, Sweep):
            self._sweep(doc)
        elif isinstance(doc, Measured):
            self._measured(doc)
        elif isinstance(doc, Event):
            self._event(doc)
        elif isinstance(doc, PhaseStart):
            self._append("phases", np.array([(doc.index, _bytes(doc.name, 64), _bytes(doc.kind, 32),
                                                doc.sample)], dtype=PHASE_DTYPE))
        elif isinstance(doc, Progress):
            self.status["samples"] = doc.sample
        elif isinstance(doc, RunStop):
            self._stop(doc)

    def _start(self, doc: RunStart) -> None:
        f = self.f
        self.fs = doc.sample_rate_hz
        f.attrs["sample_rate_hz"] = doc.sample_rate_hz
        f.attrs["ai_channels"] = json.dumps(list(doc.ai_channels))
        f.attrs["ai_mV_per_count"] = np.asarray(doc.ai_scale_mV_per_count, dtype=float)
        f.attrs["pathways"] = np.asarray(doc.pathways, dtype=np.int64)
        f.attrs["plan_name"] = doc.plan_name
        f.attrs["planned_samples"] = doc.planned_samples
        f.attrs["start_wall_time"] = doc.wall_time
        f.attrs["seed"] = -1 if doc.seed is None else doc.seed
        for k, v in doc.provenance.items():
            f.attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
        f.swmr_mode = True  # from here on: no new datasets or attributes
        self._started = True
        self._flush()

    def _sweep(self, doc: Sweep) -> None:
        n = doc.counts.shape[1]
        offset = self._append("samples", np.ascontiguousarray(doc.counts.T))
        p_off = self._append("pulses", np.asarray(doc.pulse_samples, dtype=np.int64))
        row = np.zeros(1, dtype=SWEEP_DTYPE)
        row[0] = (doc.index, doc.pathway, doc.phase, _bytes(doc.kind, 16), offset, n, doc.start_sample,
                  doc.stim_sample, p_off, len(doc.pulse_samples), doc.intensity_uA, doc.width_samples,
                  doc.stim_sample / self.fs, doc.wall_time)
        self._pending_sweep = row

    def _measured(self, doc: Measured) -> None:
        rows = np.zeros(len(doc.records), dtype=self.meas_dtype)
        rows["sweep_index"] = doc.sweep_index
        rows["pulse"] = np.arange(len(doc.records))
        rows["pathway"] = doc.pathway
        rows["phase"] = doc.phase
        rows["sample"] = doc.sample
        for name in doc.records.dtype.names:
            rows[name] = doc.records[name]
        self._append("measurements", rows)
        # the sweep row goes last: a sweep listed in /sweeps is complete with its measurements
        self._append("sweeps", self._pending_sweep)
        self.status["sweeps"] += 1
        self._flush()

    def _event(self, doc: Event) -> None:
        row = np.array([(doc.sample, doc.sample / self.fs, time.time(), _bytes(doc.kind, 32),
                         _bytes(doc.text, 256), _bytes(json.dumps(doc.data, default=str), 1024))],
                       dtype=EVENT_DTYPE)
        self._append("events", row)
        if doc.kind == "gap":
            self.status["gaps"] += 1
            self.status["lost_samples"] += int(doc.data.get("samples", 0))
        elif doc.kind == "late_write":
            self.status["late_writes"] += 1
        if self._started:
            self._flush()

    def _stop(self, doc: RunStop) -> None:
        self.status["samples"] = doc.sample
        self.status["complete"] = 1
        self.status["stop_reason"] = _bytes(doc.reason, 32)
        self.close()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self.closed:
            return
        try:
            if self._started:
                self._flush()
        finally:
            self.closed = True
            self.f.close()
