"""The simulated board's ADC: volts → int16 codes (and the volts those codes stand for), in one pass."""

from __future__ import annotations

import numba
import numpy as np

from drivers.base import Block


class CodedBlock(Block):
    """A :class:`~drivers.base.Block` whose volts are made from its codes when first asked for
    (``counts × lsb_V``, computed in float64); a reader that keeps the codes (the
    engine) never pays for them. Valid as long as its ``counts`` are (a device buffer: until the next read)."""

    @property  # type: ignore[override]
    def data(self) -> np.ndarray:
        if self._volts is None:
            object.__setattr__(self, "_volts", self.counts * self.lsb_V)  # (a frozen dataclass)
        return self._volts

    @data.setter
    def data(self, volts: np.ndarray | None) -> None:
        object.__setattr__(self, "_volts", volts)


@numba.njit(cache=True, nogil=True)
def quantize_codes(volts, scale, lsb_V, codes):  # pragma: no cover - jitted
    """``codes`` = the 16-bit codes of ``volts`` × ``scale`` (round half to even, clipped to the
    int16 range): the same numbers as ``np.clip(np.round(volts * scale / lsb_V), -32768, 32767)``
    without the temporaries. ``scale`` is the amplifier's gain (V per electrode mV) when the slice
    hands electrode mV (``respond(..., scaled=False)``), else 1.0; the product is rounded to float64
    first, as ``volts *= scale`` does. The volts the codes stand for: :class:`CodedBlock`."""
    n_ch, n = volts.shape
    for c in range(n_ch):
        for i in range(n):
            q = np.rint((volts[c, i] * scale) / lsb_V)
            if q > 32767.0:
                q = 32767.0
            elif q < -32768.0:
                q = -32768.0
            codes[c, i] = np.int16(q)
