"""The simulated DAQ applies the amplifier's gain in its ADC pass (issue 20): the slice hands
electrode mV (``respond(..., scaled=False)``) and the codes and volts are bit for bit those of the
slice scaling its own output and the ADC quantizing it."""

from __future__ import annotations

import numpy as np

from drivers.sim.adc import CodedBlock, quantize_codes
from drivers.sim.device import SimDevice
from drivers.sim.slice import make_slice

FS, BLOCK = 20000.0, 2000


def _stim(n: int) -> np.ndarray:
    stim = np.zeros((1, n))
    for s in range(900, n, 7000):
        stim[0, s:s + 2] = 150.0
    return stim


def test_unscaled_response_times_output_scale_is_the_scaled_response():
    a, b = make_slice(FS, 1, 3, gain=500.0), make_slice(FS, 1, 3, gain=500.0)  # 0.5 V per mV
    stim, ttl = _stim(20 * BLOCK), np.zeros((0, 20 * BLOCK), dtype=np.uint8)
    volts = a.respond(0, stim, ttl)
    mV = b.respond(0, stim, ttl, scaled=False)
    assert not np.array_equal(mV, volts)  # really left unscaled
    assert np.array_equal(mV * b.output_scale, volts)


def test_quantize_with_the_gain_equals_scaling_first():
    rng = np.random.default_rng(5)
    mV = rng.normal(0.0, 4.0, (2, 50_000))  # × 2000 gain: beyond ±10 V too (clipped)
    lsb, scale = 10.0 / 32768.0, 2000.0 * 1e-3
    codes = np.empty(mV.shape, np.int16)
    quantize_codes(mV, scale, lsb, codes)
    want = np.clip(np.round(mV * scale / lsb), -32768, 32767)
    assert np.array_equal(codes, want.astype(np.int16))
    assert (codes == 32767).any() and (codes == -32768).any()
    blk = CodedBlock(0, None, 0, codes, lsb)  # the volts, made from the codes when asked for
    assert blk.data.dtype == np.float64 and np.array_equal(blk.data, want * lsb)
    assert blk.data is blk.data  # made once


def _device(loopback: dict[int, int] | None) -> SimDevice:  # gain 2000: 2 V per electrode mV
    return SimDevice(make_slice(FS, 1, 11, gain=2000.0), block_samples=BLOCK, speed=None, loopback=loopback)


def test_the_device_codes_are_those_of_the_slice_scaled_then_quantized():
    n_blocks = 30
    n = n_blocks * BLOCK
    dev, ref = _device(None), make_slice(FS, 1, 11, gain=2000.0)
    ref.resync_samples = BLOCK
    ao = _stim(n) / 100.0  # V at 100 µA/V
    dev.write(0, ao, np.zeros((0, n), dtype=np.uint8))
    dev.start()
    try:
        blk = dev.read_blocks(n_blocks)
        codes, volts = blk.counts.copy(), blk.data.copy()
    finally:
        dev.stop()
    want = ref.respond(0, ao * 100.0, np.zeros((0, n), dtype=np.uint8))
    q = np.clip(np.round(want / dev.lsb_V), -32768, 32767)
    assert np.array_equal(codes, q.astype(np.int16))
    assert np.array_equal(volts, q * dev.lsb_V)
