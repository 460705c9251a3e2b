"""The fEPSP detector: windows, the measurement record, the numba kernel, window proposal (pure functions of arrays).

The public API lives in :mod:`rig.detector.measurement` and is re-exported here, so callers write
``from rig import detector; detector.measure(...)``. Lazily: importing this package (or its
numpy-free :mod:`rig.detector.windows`, as ``rig check`` does) loads neither numpy nor numba; the
first attribute asked for loads :mod:`rig.detector.measurement` (numpy), a jitted one numba.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rig.detector.measurement import (  # noqa: F401
        ART0,
        ART1,
        BL0,
        BL1,
        DEFAULT_WINDOWS,
        FLAG_NAMES,
        FLOAT_FIELDS,
        HP,
        HS,
        HV,
        MEASUREMENT_DTYPE,
        N_OFFSETS,
        NO_RESPONSE,
        NO_RISE,
        NO_STIMULUS,
        NO_VOLLEY,
        NONFINITE,
        NOT_FEPSP,
        NOT_VOLTAGE,
        P0,
        P1,
        PARAM_NAMES,
        POP_SPIKE_IN_SLOPE,
        PS0,
        PS1,
        S0,
        S1,
        SATURATED,
        SLOPE_AT_TROUGH,
        SLOPE_FIELD,
        SLOPE_IN_VOLLEY,
        V0,
        V1,
        WINDOW_NAMES,
        WINDOW_OUTSIDE,
        WMS,
        PathwayWindows,
        Windows,
        flag_names,
        measure,
        measure_pulses,
        paired_pulse_ratio,
        tail_samples,
        warm_up,
        window_offsets,
    )


def __getattr__(name: str):
    """The API of :mod:`rig.detector.measurement`, loaded on first use (``rig check`` never)."""
    if name.startswith("__") or (Path(__file__).with_name(f"{name}.py")).exists():
        raise AttributeError(name)  # a submodule (``from rig.detector import kernel``) loads itself
    from rig.detector import measurement

    value = globals()[name] = getattr(measurement, name)  # the next look-up is a plain attribute
    return value
