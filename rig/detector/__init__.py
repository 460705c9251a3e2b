"""The fEPSP detector: windows, the measurement record, the numba kernel, window proposal (pure functions of arrays).

The public API lives in :mod:`rig.detector.measurement` and is re-exported here, so callers write
``from rig import detector; detector.measure(...)``. It is loaded on first use (PEP 562): importing
``rig.detector.windows`` or ``rig.detector.codes`` alone loads neither numpy nor numba (``rig check``).
"""

import importlib

__all__ = [
    "ART0",
    "ART1",
    "BL0",
    "BL1",
    "DEFAULT_WINDOWS",
    "FLAG_NAMES",
    "FLOAT_FIELDS",
    "HP",
    "HS",
    "HV",
    "MEASUREMENT_DTYPE",
    "N_OFFSETS",
    "NO_RESPONSE",
    "NO_VOLLEY",
    "NONFINITE",
    "P0",
    "P1",
    "PARAM_NAMES",
    "POP_SPIKE_IN_SLOPE",
    "PS0",
    "PS1",
    "S0",
    "S1",
    "SATURATED",
    "SLOPE_FIELD",
    "V0",
    "V1",
    "WINDOW_NAMES",
    "WINDOW_OUTSIDE",
    "WMS",
    "Windows",
    "flag_names",
    "measure",
    "measure_pulses",
    "paired_pulse_ratio",
    "warm_up",
    "window_offsets",
]
_SUBMODULES = ("codes", "hardware", "kernel", "landmarks", "measurement", "proposal", "reference", "windows")


def __getattr__(name: str):
    """The measurement API (and ``JITTED`` and the jitted functions: numba is loaded on first use,
    ``rig check`` never); submodules by name."""
    if name in _SUBMODULES:
        return importlib.import_module(f"rig.detector.{name}")
    if name.startswith("__"):
        raise AttributeError(name)
    from rig.detector import measurement

    return getattr(measurement, name)


def __dir__() -> list[str]:
    return sorted(__all__)
