"""The simulated MEA slice: a spatial gradient of responses around the stimulating electrode, one
plasticity state for every electrode, deterministic per seed."""

from __future__ import annotations

import numpy as np

from drivers.sim.mea import CONDUCTION_UM_PER_MS, draw_electrodes, make_mea_slice
from drivers.sim.slice import make_slice

FS = 20000.0
PITCH = 200.0
XY = [(c * PITCH, r * PITCH) for r in range(8) for c in range(8)]  # electrode n at row (n-1)//8, col (n-1)%8
STIM = [(600.0, 400.0)]  # electrode 20


def _pulse(n: int, at: int, uA: float = 150.0) -> np.ndarray:
    s = np.zeros((1, n))
    s[0, at:at + 2] = uA
    return s


def _evoked(sl, seed_stim_at: int = 2000, n: int = 6000) -> np.ndarray:
    """Field (mV) of one pulse minus the same slice without it: the evoked part only."""
    quiet = make_mea_slice(FS, 1, 4, XY, STIM, PITCH).respond(0, np.zeros((1, n)), np.zeros((0, n), np.uint8))
    return (sl.respond(0, _pulse(n, seed_stim_at), np.zeros((0, n), np.uint8)) - quiet) * 1e3 / sl.params.gain


def test_same_seed_same_slice_and_another_seed_another():
    n = 4000
    a = make_mea_slice(FS, 1, 7, XY, STIM, PITCH).respond(0, _pulse(n, 1000), np.zeros((0, n), np.uint8))
    b = make_mea_slice(FS, 1, 7, XY, STIM, PITCH).respond(0, _pulse(n, 1000), np.zeros((0, n), np.uint8))
    c = make_mea_slice(FS, 1, 8, XY, STIM, PITCH).respond(0, _pulse(n, 1000), np.zeros((0, n), np.uint8))
    assert a.shape == (64, n) and np.array_equal(a, b) and not np.array_equal(a, c)
    g7, g8 = (draw_electrodes(np.array(XY), np.array(STIM), PITCH, FS, s) for s in (7, 8))
    assert not np.array_equal(g7.fepsp, g8.fepsp)


def test_responses_fall_off_along_the_fibres_and_across_the_layers():
    e = draw_electrodes(np.array(XY), np.array(STIM), PITCH, FS, 4)
    f = e.fepsp[:, 0].reshape(8, 8)  # rows × cols; the stimulating electrode at row 2, col 3
    radiatum = f[2]
    assert radiatum[3] > radiatum[5] > radiatum[7] > 0  # along the fibres
    assert abs(radiatum[7]) < 0.15 * radiatum[3]
    assert np.all(np.abs(f[6:]) < 0.05 * radiatum[3])  # far below stratum radiatum: nothing
    assert f[0, 3] < 0  # stratum pyramidale above: the field reverses (a source)
    shifts = e.shift[:, 0].reshape(8, 8)[2]
    assert shifts[3] == 0 and shifts[7] == round(4 * PITCH / CONDUCTION_UM_PER_MS * FS / 1000)


def test_evoked_fields_follow_the_gradient_with_later_troughs_further_away():
    sl = make_mea_slice(FS, 1, 4, XY, STIM, PITCH)
    ev = _evoked(sl)
    near, far, off = 21, 24, 60  # next along radiatum, 4 pitches along, far below
    trough = {e: float(ev[e - 1, 2000:].min()) for e in (near, far, off)}
    assert trough[near] < -0.1 and trough[near] < 3 * trough[far] < 0 and abs(trough[off]) < 0.02
    t_near = int(np.argmin(ev[near - 1, 2030:])) + 30  # past the artifact
    t_far = int(np.argmin(ev[far - 1, 2030:])) + 30
    assert t_far > t_near  # conduction along the fibres


def test_every_electrode_shares_the_plasticity_of_the_single_electrode_slice():
    """Plasticity is the slice's (drivers.sim.plasticity), not the electrode's: a theta burst
    potentiates the MEA slice exactly as the single-electrode slice of the same seed."""
    mea = make_mea_slice(FS, 1, 11, XY, STIM, PITCH)
    one = make_slice(FS, 1, 11)
    n = int(2 * FS)
    stim = np.zeros((1, n))
    for burst in range(10):
        for k in range(4):
            a = int((burst * 0.2 + k * 0.01) * FS) + 100
            stim[0, a:a + 2] = 300.0
    for sl in (mea, one):
        sl.respond(0, stim, np.zeros((0, n), np.uint8))
        sl.respond(n, np.zeros((1, 20 * n)), np.zeros((0, 20 * n), np.uint8))
    assert mea.efficacy(0) == one.efficacy(0) and mea.efficacy(0) > 1.05
    assert mea.pulses_delivered == one.pulses_delivered == 40


def test_one_call_or_many_blocks_give_the_same_samples():
    n, block = 8000, 2000
    a, b = (make_mea_slice(FS, 1, 3, XY, STIM, PITCH) for _ in range(2))
    a.resync_samples = b.resync_samples = block
    stim = _pulse(n, 2500)
    whole = a.respond(0, stim, np.zeros((0, n), np.uint8))
    parts = np.concatenate([b.respond(k, stim[:, k:k + block], np.zeros((0, block), np.uint8))
                            for k in range(0, n, block)], axis=1)
    assert np.array_equal(whole, parts)
