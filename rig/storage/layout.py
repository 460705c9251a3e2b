"""The HDF5 layout (docs/file-format.md): dataset names, dtypes and the format version.

Every dataset is created before recording starts and only grows (SWMR rule). Strings are
fixed-length bytes (variable-length strings break SWMR readers).
"""

from __future__ import annotations

import numpy as np

FORMAT_VERSION = "1.0"

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
    ]
)

EVENT_DTYPE = np.dtype(
    [("sample", "i8"), ("time_s", "f8"), ("wall_time", "f8"), ("kind", "S32"), ("text", "S256"), ("data", "S1024")]
)

PHASE_DTYPE = np.dtype([("index", "i4"), ("name", "S64"), ("kind", "S32"), ("start_sample", "i8")])

MEASUREMENT_KEY_DTYPE = [("sweep_index", "i8"), ("pulse", "i4"), ("pathway", "i4"), ("phase", "i4"), ("sample", "i8")]

STATUS_DTYPE = np.dtype(
    [
        ("sweeps", "i8"),
        ("samples", "i8"),  # samples acquired so far (experiment time on the sample clock)
        ("gaps", "i8"),
        ("lost_samples", "i8"),
        ("late_writes", "i8"),
        ("complete", "i1"),  # 1 once the run ended and the file was closed cleanly
        ("stop_reason", "S32"),
    ]
)

CHUNK_ROWS = 16384


def measurement_dtype(detector_dtype: np.dtype) -> np.dtype:
    """Measurement table row: sweep keys followed by the detector's fields."""
    return np.dtype(MEASUREMENT_KEY_DTYPE + [(n, detector_dtype.fields[n][0]) for n in detector_dtype.names])
