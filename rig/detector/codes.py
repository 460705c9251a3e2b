"""Flag bits of a measurement and the sample-offset layout of the windows: plain constants, so
that validating a protocol (``rig check``) never loads numba; :mod:`rig.detector.kernel` compiles
against them.
"""

from __future__ import annotations

import numpy as np

# -- flag bits ---------------------------------------------------------------------------------
NO_RESPONSE = np.uint32(1)  # |amplitude| < 3 × baseline noise
SATURATED = np.uint32(2)  # a measurement window holds a clipped sample (that value is NaN)
WINDOW_OUTSIDE = np.uint32(4)  # a window (or the pulse) lies outside the sweep
POP_SPIKE_IN_SLOPE = np.uint32(8)  # a population spike overlaps the slope window
NONFINITE = np.uint32(16)  # a measurement window holds NaN/inf (that value is NaN)
NO_VOLLEY = np.uint32(32)  # no local minimum inside the volley window

# offsets array layout (samples relative to the pulse onset)
BL0, BL1, ART0, ART1, V0, V1, S0, S1, P0, P1, PS0, PS1, HV, HP, WMS, HS = range(16)
N_OFFSETS = 16
