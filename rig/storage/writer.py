"""Writes the document stream to one HDF5 file in SWMR mode, flushed after every sweep.

Life of a file (docs/file-format.md):

1. ``RecordingWriter(path, …)`` creates the file exclusively (never overwrites), creates every
   dataset, writes the provenance known so far, and *closes* it: until recording starts the file
   on disk is a complete, cleanly closed HDF5 file (status ``not started``), a placeholder that
   reserves the name.
2. ``RunStart`` builds the recording under a hidden temporary name in the same folder
   (``.NAME.starting``): every dataset, the provenance and the run attributes (sample rate,
   scaling, analysis windows), switches it to SWMR mode, flushes, and only then renames it over
   the placeholder (atomic). A reader that opened the placeholder (h5py, ``rig summary``, a file
   browser's preview) holds an HDF5 file lock on the *old* file and cannot stop the recording:
   the writer never reopens a name anyone else can see. From here on nothing but dataset growth.
3. Per sweep: samples → pulses → measurements → flush → the ``/sweeps`` row and ``/status``
   (whose ``measurement_rows`` commits the rows just flushed) → flush. A sweep listed in
   ``/sweeps`` is therefore complete, with its measurements, on disk; an event row likewise is
   written and flushed before ``/status.event_rows`` commits it. A row beyond the commit marks
   (what a disk that filled up mid-flush leaves: zeros) is never read as data.
4. ``RunStop`` marks the status complete and closes the file.

A write error (disk full, I/O error) turns into :class:`StorageError` (a ``RunFailure``: exit 1):
the engine stops and zeroes the outputs; the writer ignores every later document, so nothing more
touches a file whose last flushed state holds every completed sweep.

Set ``RIG_SWEEP_LOG=FILE`` to have the writer append ``"<index> <crc32>"`` to FILE after each
sweep's flush (the crash tests use it as "reported complete before the kill").
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TextIO

import h5py
import numpy as np
from h5py import h5s, h5t

from rig import detector
from rig.core.documents import Measured, PhaseStart, Progress, RunStart, RunStop, Sweep
from rig.core.events import Event, Gap, to_stored
from rig.core.mea import MEALayout, MEAMeasured
from rig.storage import mea as mea_store
from rig.storage.disk import (  # noqa: F401 - StorageError, unique_path re-exported
    MIN_FREE_BYTES,
    StorageError,
    check_free_space,
    discard_after_error,
    error_reason,
    unique_path,
)
from rig.storage.layout import (
    COUNTED_EVENTS,
    DATASETS,
    EVENT_DTYPE,
    FORMAT_VERSION,
    LIBVER,
    PHASE_DTYPE,
    STATUS_DTYPE,
    SWEEP_DTYPE,
    counts_crc32,
    create_datasets,
    measurement_dtype,
)

SWEEP_LOG_ENV = "RIG_SWEEP_LOG"


def _bytes(s: str, n: int) -> bytes:
    b = s.encode("utf-8")[:n]
    return b.decode("utf-8", "ignore").encode("utf-8")


def _attr(v: object) -> object:
    """Attribute value: numbers and strings as they are, anything else as JSON text."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    return v if isinstance(v, (int, float, str, np.integer, np.floating)) else json.dumps(v, default=str)


class RecordingWriter:
    """A document subscriber that records one run into ``path`` (created now, never overwritten)."""

    def __init__(self, path: Path, n_ai: int, provenance: dict, fsync: bool = False,
                 mea: MEALayout | None = None) -> None:
        self.path = Path(path)
        self.mea = mea  # MEA mode: the layout and every electrode's measurements (rig.storage.mea)
        self.fsync = fsync
        self.fs = 1.0
        self.n_ai = n_ai
        self.meas_dtype = measurement_dtype(detector.MEASUREMENT_DTYPE)
        self.status = np.zeros(1, dtype=STATUS_DTYPE)
        self.status["stop_reason"] = b"not started"
        self.f: h5py.File | None = None
        self.ds: dict[str, h5py.Dataset] = {}  # held open for the whole run (no close/reopen per sweep)
        self._pending: np.ndarray | None = None
        self._early: list[object] = []
        self._log: TextIO | None = None
        self._started = False
        self.failed: str | None = None
        self.saved_sweeps = 0  # sweeps whose final flush succeeded
        self.closed = False
        self._provenance = dict(provenance)
        check_free_space(self.path)
        try:
            f = h5py.File(self.path, "x", libver=LIBVER)  # "x": fail if the file exists
        except FileExistsError as exc:
            raise StorageError(f"{self.path}: exists; a recording is never overwritten") from exc
        except OSError as exc:  # e.g. a full disk: HDF5 may have left an empty file behind, ours
            self.path.unlink(missing_ok=True)
            raise StorageError(f"{self.path}: cannot create the recording ({error_reason(exc)}); nothing was "
                               "stimulated") from exc
        try:
            self._fill_new(f)
            f.close()
        except (OSError, RuntimeError) as exc:  # the placeholder is ours (created with "x")
            discard_after_error(f)
            self.path.unlink(missing_ok=True)
            raise StorageError(f"{self.path}: cannot create the recording ({error_reason(exc)}); nothing was "
                               "stimulated") from exc

    def _fill_new(self, f: h5py.File) -> None:
        """Format version, provenance known at creation and every (empty) dataset."""
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["software"] = "ltp-rig"
        for k, v in self._provenance.items():
            f.attrs[k] = _attr(v)
        create_datasets(f, self.n_ai, self.meas_dtype, self.status)
        if self.mea is not None:
            mea_store.create(f, self.mea)

    @property
    def starting_path(self) -> Path:
        """The hidden name the recording is built under before it replaces the placeholder."""
        return self.path.with_name(f".{self.path.name}.starting")

    def _open_for_run(self) -> h5py.File:
        """The recording, created under :attr:`starting_path` (nobody else knows the name, so no
        reader's lock can refuse it); :meth:`_start` renames it over the placeholder."""
        tmp = self.starting_path
        tmp.unlink(missing_ok=True)  # a leftover of a start that was killed
        f = h5py.File(tmp, "x", libver=LIBVER)  # default locking, as every reader in this process
        try:
            self._fill_new(f)
        except BaseException:
            discard_after_error(f)
            tmp.unlink(missing_ok=True)
            raise
        return f

    # -- helpers -----------------------------------------------------------------------------
    def _append(self, name: str, rows: np.ndarray) -> int:
        """Grow dataset ``name`` by ``rows`` (same dtype); returns the first new row.

        Uses h5py's low-level API (extent + hyperslab write) with each dataset's memory type built
        once: the high-level ``d[a:b] = rows`` costs ~0.3 ms per call for compound rows, and h5py
        builds a compound's HDF5 type anew for every write (~0.3 ms for the sweep and measurement rows).
        """
        d = self.ds[name]
        n0 = self._rows[name]
        n = rows.shape[0]
        if n:
            dtype, tail, mtype = self._types[name]
            rows = np.ascontiguousarray(rows, dtype=dtype)
            shape = (n0 + n, *tail)
            d.id.set_extent(shape)
            fspace = d.id.get_space()
            fspace.select_hyperslab((n0,) + (0,) * len(tail), rows.shape)
            d.id.write(h5s.create_simple(rows.shape), fspace, rows, mtype=mtype)
            self._rows[name] = n0 + n
        return n0

    def _flush_data(self) -> None:
        """First flush of a sweep: its samples, pulses and measurements, before it is listed."""
        assert self.f is not None
        self.f.flush()

    def _flush(self) -> None:
        assert self.f is not None
        d = self.ds["status"]
        d.id.write(h5s.create_simple((1,)), d.id.get_space(), self.status, mtype=self._types["status"][2])
        self.f.flush()
        if self.fsync:
            os.fsync(self.f.id.get_vfd_handle())

    @property
    def n_sweeps(self) -> int:
        return int(self.status["sweeps"][0])

    # -- the subscriber ----------------------------------------------------------------------
    def __call__(self, doc: object) -> None:
        if self.closed or self.failed:
            return
        if not self._started and not isinstance(doc, RunStart):
            self._early.append(doc)  # nothing is written before the run starts
            return
        try:
            self._dispatch(doc)
        except Exception as exc:  # noqa: BLE001 - any failure to write stops the run
            self._fail(exc)

    def _dispatch(self, doc: object) -> None:
        if isinstance(doc, RunStart):
            self._start(doc)
        elif isinstance(doc, Sweep):
            self._sweep(doc)
        elif isinstance(doc, Measured):
            self._measured(doc)
        elif isinstance(doc, Event):
            self._event(doc)
        elif isinstance(doc, MEAMeasured) and self.mea is not None:  # before its sweep's Measured: flushed with it
            self._append(mea_store.MEASUREMENTS, mea_store.rows(doc, self.mea))
        elif isinstance(doc, PhaseStart):
            self._append("phases", np.array([(doc.index, _bytes(doc.name, 64), _bytes(doc.kind, 32),
                                                doc.sample)], dtype=PHASE_DTYPE))
        elif isinstance(doc, Progress):
            self.status["samples"] = doc.sample
        elif isinstance(doc, RunStop):
            self._stop(doc)

    def _fail(self, exc: BaseException) -> None:
        reason = error_reason(exc)
        self.failed = f"{type(exc).__name__}: {reason}"
        self._pending = None
        self._detach()
        if not self._started:  # failed while building the recording: the placeholder stays
            self.starting_path.unlink(missing_ok=True)
        self.closed = True
        self._close_log()
        raise StorageError(
            f"cannot write {self.path} ({reason}): stimulation stopped and outputs zeroed; "
            f"the {self.saved_sweeps} complete sweeps already written are kept and readable"
        ) from exc

    def _detach(self) -> None:
        """Close the HDF5 file without touching the disk again after a write error (:func:`discard_after_error`)."""
        if self.f is not None:
            discard_after_error(self.f, tuple(self.ds.values()))
        self.ds = {}
        self.f = None

    def _start(self, doc: RunStart) -> None:
        self.f = self._open_for_run()
        f = self.f
        self.fs = doc.sample_rate_hz
        n = len(doc.ai_scale_mV_per_count)
        f.attrs["sample_rate_hz"] = doc.sample_rate_hz
        f.attrs["ai_channels"] = json.dumps(list(doc.ai_channels))
        f.attrs["ai_mV_per_count"] = np.asarray(doc.ai_scale_mV_per_count, dtype=float)
        f.attrs["ai_mV_offset"] = np.zeros(n)
        f.attrs["pathways"] = np.asarray(doc.pathways, dtype=np.int64)
        f.attrs["plan_name"] = doc.plan_name
        f.attrs["planned_samples"] = doc.planned_samples
        f.attrs["start_wall_time"] = doc.wall_time
        f.attrs["seed"] = -1 if doc.seed is None else doc.seed
        prov = dict(doc.provenance)
        windows = prov.pop("windows", None)  # the analysis windows in use (engine), ms from the pulse
        if windows is not None:
            f.attrs["windows"] = json.dumps(windows)
        for k, v in prov.items():
            f.attrs[k] = _attr(v)
        self.status["stop_reason"] = b"recording"
        self.ds = {name: f[name] for name in DATASETS + (mea_store.DATASETS if self.mea is not None else ())}
        self._rows = {name: int(d.shape[0]) for name, d in self.ds.items()}
        self._types = {name: (d.dtype, tuple(d.shape[1:]), h5t.py_create(d.dtype)) for name, d in self.ds.items()}
        f.swmr_mode = True  # from here on: no new datasets or attributes
        f.flush()
        os.replace(self.starting_path, self.path)  # atomic: readers see the placeholder or this
        self._started = True
        log = os.environ.get(SWEEP_LOG_ENV)
        if log:
            self._log = open(log, "a", encoding="ascii")  # noqa: SIM115 - closed in close()
        for d in self._early:
            self._dispatch(d)
        self._early.clear()
        self._flush()

    def _sweep(self, doc: Sweep) -> None:
        if self._pending is not None:  # a sweep whose measurement never came: still a complete sweep
            self._commit()
        rows = np.ascontiguousarray(doc.counts.T, dtype="<i2")
        offset = self._append("samples", rows)
        p_off = self._append("pulses", np.asarray(doc.pulse_samples, dtype=np.int64))
        row = np.zeros(1, dtype=SWEEP_DTYPE)
        row[0] = (doc.index, doc.pathway, doc.phase, _bytes(doc.kind, 16), offset, rows.shape[0], doc.start_sample,
                  doc.stim_sample, p_off, len(doc.pulse_samples), doc.intensity_uA, doc.width_samples,
                  doc.stim_sample / self.fs, doc.wall_time, counts_crc32(rows), doc.gain, doc.gain_mV_per_count,
                  doc.delivered_uA, doc.delivered_nC, doc.monitor_pulses, doc.pulses_planned, doc.pulses_delivered,
                  doc.first_pulse_sample, doc.last_pulse_sample)
        self._pending = row

    def _measured(self, doc: Measured) -> None:
        rows = np.zeros(len(doc.records), dtype=self.meas_dtype)
        rows["sweep_index"] = doc.sweep_index
        rows["pulse"] = np.arange(len(doc.records))
        rows["pathway"] = doc.pathway
        rows["phase"] = doc.phase
        rows["sample"] = doc.sample
        rows["analysis"] = doc.analysis
        for name in doc.records.dtype.names:
            if name in rows.dtype.names:  # the layout's fields (the detector's MEASUREMENT_DTYPE)
                rows[name] = doc.records[name]
        self._append("measurements", rows)
        if doc.remeasure:  # a new analysis version of a sweep already listed: on disk with the next flush
            return
        if self._pending is not None and int(self._pending["index"][0]) == doc.sweep_index:
            self._commit()

    def _commit(self) -> None:
        """Two flushes: the sweep's data first, then its /sweeps row and the status.

        A kill or a write error during the first flush leaves the sweep unlisted; during the
        second, its data is already on disk. Either way a listed sweep is complete.
        """
        assert self._pending is not None and self.f is not None
        row, self._pending = self._pending, None
        self._flush_data()
        self._append("sweeps", row)
        self.status["sweeps"] += 1
        self.status["measurement_rows"] = self._rows["measurements"]  # flushed above: committed now
        self._flush()
        self.saved_sweeps += 1
        if self._log is not None:
            self._log.write(f"{int(row['index'][0])} {int(row['crc32'][0])}\n")
            self._log.flush()

    def _event(self, doc: Event) -> None:
        sample, kind, text, data = to_stored(doc)
        row = np.array([(sample, sample / self.fs, time.time(), _bytes(kind, 32), _bytes(text, 256),
                         _bytes(data, 1024))], dtype=EVENT_DTYPE)
        self._append("events", row)
        counter = COUNTED_EVENTS.get(type(doc))
        if counter:
            self.status[counter] += 1
        if isinstance(doc, Gap):
            self.status["lost_samples"] += int(doc.samples)
        self._flush_data()  # the row first; the commit mark (``event_rows``) with the next flush
        self.status["event_rows"] = self._rows["events"]
        self._flush()

    def _stop(self, doc: RunStop) -> None:
        if self._pending is not None:
            self._commit()
        if self._rows["measurements"] > int(self.status["measurement_rows"][0]):  # rows after the last sweep
            self._flush_data()  # (an averaged measurement, a version's re-measured rows): flushed, then committed
            self.status["measurement_rows"] = self._rows["measurements"]
        self.status["samples"] = doc.sample
        self.status["complete"] = 1
        self.status["stop_reason"] = _bytes(doc.reason, 32)
        self.close()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Flush and close (idempotent). After a write failure the file is left as last flushed."""
        if self.closed:
            return
        try:
            if self.f is not None:
                if self._pending is not None:
                    self._commit()
                self._flush()
                self.ds = {}
                self.f.close()
                self.f = None
        except Exception as exc:  # noqa: BLE001 - a failed final flush is a failed recording
            self._fail(exc)
        finally:
            self.closed = True
            self._close_log()
