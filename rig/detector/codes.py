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
SLOPE_AT_TROUGH = np.uint32(64)  # the slope window reaches the fEPSP peak (trough) of a response
SLOPE_IN_VOLLEY = np.uint32(128)  # the slope window starts inside the volley window or before its trough
NOT_FEPSP = np.uint32(256)  # positive-going (wrong polarity) or action-potential-sized (|peak| > 20 mV)
NO_STIMULUS = np.uint32(512)  # the stimulus could not be found (rig analyze: ABF with no trigger/artifact)
NO_RISE = np.uint32(1024)  # the 20–80 / 10–90 % rise or the max-slope span could not be measured
NOT_VOLTAGE = np.uint32(2048)  # the channel is not in voltage units (rig analyze: pA/nA, voltage clamp)
AP_LIKE_MV = 20.0  # a field response deeper than this is not an fEPSP (an action potential, pA read as mV)

# offsets array layout (samples relative to the pulse onset)
BL0, BL1, ART0, ART1, V0, V1, S0, S1, P0, P1, PS0, PS1, HV, HP, WMS, HS = range(16)
N_OFFSETS = 16
