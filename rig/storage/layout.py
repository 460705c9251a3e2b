"""The HDF5 layout (docs/file-format.md): dataset names, dtypes and the format version.

Every dataset is created before recording starts and only grows (SWMR rule). Strings are
fixed-length bytes (variable-length strings break SWMR readers). The file is written with
``libver=("v110", "v110")``: SWMR needs the 1.10 format, and capping it there keeps every
h5py/HDF5 ≥ 1.10 able to read it.
"""

from __future__ import annotations

import zlib

import h5py
import numpy as np

from rig.core import events as ev
from rig.detector.online import AVERAGED_KEYS

FORMAT_VERSION = "1.5"
LIBVER = ("v110", "v110")

SWEEP_DTYPE = np.dtype(
    [
        ("index", "i8"),
        ("pathway", "i4"),
        ("phase", "i4"),
        ("kind", "S16"),
        ("offset", "i8"),  # first row of this sweep in /samples
        ("n_samples", "i8"),
        ("start_sample", "i8"),  # absolute sample of the sweep's first sample
        ("stim_sample", "i8"),  # absolute onset of the first pulse
        ("pulse_offset", "i8"),  # first row of this sweep's pulses in /pulses
        ("n_pulses", "i4"),
        ("intensity_uA", "f8"),
        ("width_samples", "i4"),
        ("time_s", "f8"),  # stim_sample / sample rate
        ("wall_time", "f8"),  # POSIX seconds when the sweep was cut
        ("crc32", "u4"),  # zlib.crc32 of this sweep's rows of /samples (little-endian int16, C order)
        # 1.2, the rig as wired: NaN / -1 where the rig has no gain telegraph or isolator monitor
        ("gain", "f8"),  # field amplifier gain read from the telegraph for this sweep (V/V)
        ("gain_mV_per_count", "f8"),  # the scale of the telegraph's field channel for this sweep
        ("delivered_uA", "f8"),  # isolator current monitor: median peak current of the sweep's pulses
        ("delivered_nC", "f8"),  # median charge per pulse (leading phase)
        ("monitor_pulses", "i4"),  # pulses seen on the monitor (≥ 50 % of the command); -1: no monitor
        # 1.3, delivered not planned: counted from the output blocks written (-1: not counted / none)
        ("pulses_planned", "i4"),
        ("pulses_delivered", "i4"),
        ("first_pulse_sample", "i8"),
        ("last_pulse_sample", "i8"),
    ]
)

EVENT_DTYPE = np.dtype(
    [("sample", "i8"), ("time_s", "f8"), ("wall_time", "f8"), ("kind", "S32"), ("text", "S256"), ("data", "S1024")]
)

PHASE_DTYPE = np.dtype([("index", "i4"), ("name", "S64"), ("kind", "S32"), ("start_sample", "i8")])

MEASUREMENT_KEY_DTYPE = [("sweep_index", "i8"), ("pulse", "i4"), ("pathway", "i4"), ("phase", "i4"), ("sample", "i8"),
                         ("analysis", "i4"),  # 1.3: the analysis version of the row (0: online, first windows)
                         # 1.4: an averaged measurement's row: averaged_n sweeps (0: a single sweep's row) of one
                         # pathway, from first_sweep to sweep_index (rig.detector.online.averaged_records)
                         *AVERAGED_KEYS]

STATUS_DTYPE = np.dtype(
    [
        ("sweeps", "i8"),
        ("samples", "i8"),  # samples acquired so far (experiment time on the sample clock)
        ("gaps", "i8"),  # acquisition gaps (device overruns / restarts), each also an event
        ("lost_samples", "i8"),  # samples missing in those gaps (stored as zeros)
        ("overruns", "i8"),  # device-reported buffer overruns (events of kind "overrun")
        ("late_writes", "i8"),  # output blocks written after their first sample was due
        ("sweeps_lost", "i8"),  # sweeps discarded or lost (events "sweep_lost" / "sweep_discarded")
        ("complete", "i1"),  # 1 once the run ended and the file was closed cleanly
        ("stop_reason", "S32"),
        # 1.3, the commit marks: rows [0, n) of /measurements and /events are complete on disk (each
        # is raised only by the flush after the one that wrote the rows); later rows are not valid
        ("measurement_rows", "i8"),
        ("event_rows", "i8"),
    ]
)

#: Event types that bump a status counter.
COUNTED_EVENTS: dict[type[ev.Event], str] = {ev.Gap: "gaps", ev.Overrun: "overruns", ev.LateWrite: "late_writes",
                                             ev.SweepLost: "sweeps_lost", ev.SweepDiscarded: "sweeps_lost"}

CHUNK_ROWS = 16384
DATASETS = ("samples", "sweeps", "pulses", "measurements", "events", "phases", "status")


def measurement_dtype(detector_dtype: np.dtype) -> np.dtype:
    """Measurement table row: sweep keys followed by the detector's fields."""
    return np.dtype(MEASUREMENT_KEY_DTYPE + [(n, detector_dtype.fields[n][0]) for n in detector_dtype.names])


def counts_crc32(counts_rows: np.ndarray) -> int:
    """CRC-32 of a sweep's samples as stored: (n_samples, n_ai) int16, little-endian, C order."""
    a = np.ascontiguousarray(counts_rows, dtype="<i2")
    return zlib.crc32(a.tobytes()) & 0xFFFFFFFF


def create_datasets(f: h5py.File, n_ai: int, meas_dtype: np.dtype, status: np.ndarray,
                    sweep_dtype: np.dtype = SWEEP_DTYPE) -> None:
    """Create every dataset of the layout, empty and growable (before SWMR starts).

    ``sweep_dtype`` and ``status.dtype`` may be an older version's (``rig recover`` keeps them).
    """
    f.create_dataset("samples", shape=(0, n_ai), maxshape=(None, n_ai), dtype="<i2", chunks=(CHUNK_ROWS, n_ai))
    f.create_dataset("sweeps", shape=(0,), maxshape=(None,), dtype=sweep_dtype, chunks=(256,))
    f.create_dataset("pulses", shape=(0,), maxshape=(None,), dtype="<i8", chunks=(1024,))
    f.create_dataset("measurements", shape=(0,), maxshape=(None,), dtype=meas_dtype, chunks=(256,))
    f.create_dataset("events", shape=(0,), maxshape=(None,), dtype=EVENT_DTYPE, chunks=(16,))
    f.create_dataset("phases", shape=(0,), maxshape=(None,), dtype=PHASE_DTYPE, chunks=(64,))
    f.create_dataset("status", shape=(1,), maxshape=(1,), dtype=status.dtype, data=status, chunks=(1,))
