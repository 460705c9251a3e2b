"""The simulated board's ADC: volts → int16 codes and the volts those codes stand for, in one pass."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def quantize(volts, scale, lsb_V, codes, out_V):  # pragma: no cover - jitted
    """``codes`` = the 16-bit codes of ``volts`` × ``scale`` (round half to even, clipped to the
    int16 range), ``out_V`` = codes × ``lsb_V``: the same numbers as ``np.clip(np.round(volts *
    scale / lsb_V), -32768, 32767)`` (× ``lsb_V``), without the temporaries. ``scale`` is the
    amplifier's gain (V per electrode mV) when the slice hands electrode mV (``respond(...,
    scaled=False)``), else 1.0; the product is rounded to float64 first, as ``volts *= scale`` does."""
    n_ch, n = volts.shape
    for c in range(n_ch):
        for i in range(n):
            q = np.rint((volts[c, i] * scale) / lsb_V)
            if q > 32767.0:
                q = 32767.0
            elif q < -32768.0:
                q = -32768.0
            codes[c, i] = np.int16(q)
            out_V[c, i] = q * lsb_V
