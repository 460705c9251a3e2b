"""Reading ahead at --speed max (rig/core/readahead.py): the engine folds quiet device blocks into one
read, and the recording is bit-identical to one read per block; paced runs read one block at a time
with the rig's block size and horizon, exactly as before."""

from __future__ import annotations

import threading
from pathlib import Path

import h5py
import numpy as np
import pytest

from drivers.sim.device import SimDevice
from drivers.sim.slice import make_slice
from rig.experiment.assemble import assemble_run
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import load_rig

# two pathways, an I/O curve that sets the intensity, a gated baseline, a drug through a valve, TBS
# with the induction ledger, a follow-up: every kind of decision point the read-ahead must respect
PROTOCOL = """
[experiment]
name = "read-ahead"

[stimulation]
pathways = ["S1", "S2"]
intensity_uA = [150.0, 150.0]
width_us = 100.0
sweep_pre_ms = 20.0
sweep_post_ms = 80.0

[[phases]]
kind = "io_curve"
name = "I/O"
start_uA = 50.0
stop_uA = 300.0
step_uA = 50.0
repeats = 1
interval_s = 3.0
set_intensity = { rule = "percent_of_max", percent = 40.0 }

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 1.0
max_duration_min = 2.0
interval_s = 4.0
stability = { max_drift_percent_per_10min = 50.0, max_halves_diff_percent = 20.0, window_min = 1.0 }
on_unstable = "proceed"

[[phases]]
kind = "chemical"
name = "DHPG"
drug = "DHPG"
concentration_uM = 50.0
duration_min = 0.5
valve = "drug_A"
interval_s = 4.0

[[phases]]
kind = "induction"
name = "TBS"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = 5
burst_interval_ms = 200.0
trains = 2
train_interval_s = 5.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 1.0
interval_s = 4.0
"""
WALL_CLOCK = {"wall_time"}


def _record(tmp_path: Path, name: str, read_ahead: bool) -> tuple[Path, list[int]]:
    proto = tmp_path / "read_ahead.toml"
    proto.write_text(PROTOCOL)
    rig, _ = load_rig(None)
    plan = expand(load_protocol(proto)[0], rig, str(proto))
    out = tmp_path / name
    run = assemble_run(plan, rig, seed=3, speed=None, out=out)
    reads: list[int] = []
    dev = run.device
    inner = dev.read_blocks

    def counted(k: int):
        reads.append(k)
        return inner(k)

    dev.read_blocks = counted  # type: ignore[method-assign]
    if not read_ahead:
        run.engine.read_ahead_blocks = 1
    try:
        run.engine.run(threading.Event())
    finally:
        run.close()
    return out, reads


def _tables(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r", swmr=True) as f:
        return {name: f[name][()] for name in ("samples", "sweeps", "pulses", "measurements", "events",
                                               "phases", "status")}


def test_a_run_read_ahead_is_bit_identical_to_one_read_per_block(tmp_path):
    ahead, reads = _record(tmp_path, "ahead.h5", True)
    block, single = _record(tmp_path, "block.h5", False)
    assert not single  # the reference read one block at a time (read(), never read_blocks)
    assert reads and max(reads) > 10 and len(reads) < sum(reads) / 5  # it did read ahead, a lot
    a, b = _tables(ahead), _tables(block)
    for name in a:
        x, y = a[name], b[name]
        assert x.shape == y.shape, name
        for field in x.dtype.names or (None,):
            if field in WALL_CLOCK:
                continue
            u, v = (x, y) if field is None else (x[field], y[field])
            assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), (name, field)
    kinds = {bytes(k).decode() for k in a["events"]["kind"]}
    assert {"io_fit", "intensity_set", "valve", "induction"} <= kinds, kinds  # the decisions were exercised
    assert any(k.startswith("baseline_") for k in kinds), kinds


def test_the_slice_makes_the_same_samples_in_one_call_as_block_by_block():
    fs, block, n_blocks = 20000.0, 2000, 40
    n = block * n_blocks
    stim = np.zeros((2, n))
    for s in range(1500, n, 3713):  # pulses anywhere, some across block boundaries
        stim[(s // 3713) % 2, s:s + 3] = 120.0
    stim[0, 2 * block - 1:2 * block + 1] = 200.0  # a pulse that straddles a block boundary
    ttl = np.zeros((1, n), dtype=np.uint8)
    ttl[0, 30_000:61_000] = 1
    valves = ((0, "DHPG", 50.0),)
    one = make_slice(fs, 2, 7, valves=valves)
    per = make_slice(fs, 2, 7, valves=valves)
    one.resync_samples = per.resync_samples = block
    whole = one.respond(0, stim, ttl)
    parts = np.concatenate([per.respond(k, stim[:, k:k + block], ttl[:, k:k + block]) for k in range(0, n, block)],
                           axis=1)
    assert np.array_equal(whole, parts)
    assert one.pulses_delivered == per.pulses_delivered > 10


def test_the_device_reads_ahead_only_when_unpaced():
    fs = 20000.0
    assert SimDevice(make_slice(fs, 1, 1), speed=None, block_samples=1000).max_read_blocks > 1
    assert SimDevice(make_slice(fs, 1, 1), speed=1.0, block_samples=1000).max_read_blocks == 1
    assert SimDevice(make_slice(fs, 1, 1), speed=20.0, block_samples=1000).max_read_blocks == 1


@pytest.mark.parametrize("speed", [1.0, 50.0])
def test_paced_runs_keep_their_block_size_and_horizon(tmp_path, speed):
    """Paced: the rig's block_ms (50 ms) and horizon_ms (300 ms), one block per read, the outputs
    exactly one horizon ahead at every read — as before the read-ahead existed."""
    proto = tmp_path / "paced.toml"
    proto.write_text(PROTOCOL.split("[[phases]]")[0] + """
[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 0.05
interval_s = 1.0
""")
    rig, _ = load_rig(None)
    plan = expand(load_protocol(proto)[0], rig, str(proto))
    run = assemble_run(plan, rig, seed=1, speed=speed, out=tmp_path / f"paced{speed:g}.h5")
    dev, eng = run.device, run.engine
    assert dev.block_samples == 1000 and eng.horizon == 6000 and eng.read_ahead_blocks == 1
    seen: list[tuple[int, int, int]] = []
    read = dev.read

    def spy():
        seen.append((dev._pos, dev.written_until, 0))
        blk = read()
        seen[-1] = (seen[-1][0], seen[-1][1], blk.data.shape[1])
        return blk

    dev.read = spy  # type: ignore[method-assign]
    dev.read_blocks = lambda k: pytest.fail("a paced device was asked for several blocks")  # type: ignore
    try:
        eng.run(threading.Event())
    finally:
        run.close()
    assert len(seen) >= 3 * 20
    assert all(n == 1000 for _, _, n in seen)
    assert all(w - pos == 6000 for pos, w, _ in seen)


def test_quiet_until_is_exact(tmp_path):
    """schedule(until) hands out nothing up to quiet_until, along a whole gated, closed-loop plan."""
    from rig.experiment.session import make_controller

    rig, _ = load_rig(None)
    path = tmp_path / "plan.toml"
    path.write_text(PROTOCOL)
    ctl = make_controller(expand(load_protocol(path)[0], rig, str(path)), rig, None)
    block, checked, handed = 2000, 0, 0
    while ctl.finished_at is None:
        q = ctl.quiet_until()
        if q > ctl.generated_until:
            stims, valves, docs = ctl.schedule(q)
            assert not stims and not valves and not docs, q
            checked += 1
        stims, valves, docs = ctl.schedule(ctl.generated_until + block)
        handed += len(stims) + len(valves) + len(docs)
    assert checked > 50 and handed > 50
