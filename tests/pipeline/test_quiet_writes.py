"""At --speed max the engine writes the outputs of a block that no stimulus or valve touches as
read-only broadcast views (issue 20: no AO/DO arrays made, checked and scanned per block); a
paced device is still written real arrays (a board's driver copies them)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from rig.experiment.assemble import assemble_run
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import load_rig
from tests.conftest import baseline_toml

PROTOCOL = baseline_toml(0.1, 1.0, name="quiet writes", intensity_uA=150.0)


def _writes(tmp_path: Path, speed: float | None) -> list[tuple[bool, bool]]:
    """(touched: a nonzero AO sample, broadcast: zero-stride AO) of every output write of a run."""
    proto = tmp_path / "quiet.toml"
    proto.write_text(PROTOCOL)
    rig, _ = load_rig(None)
    plan = expand(load_protocol(proto)[0], rig, str(proto))
    run = assemble_run(plan, rig, seed=2, speed=speed, out=tmp_path / f"quiet{speed}.h5")
    seen: list[tuple[bool, bool]] = []
    write = run.device.write

    def spy(start: int, ao: np.ndarray, do: np.ndarray) -> None:
        seen.append((bool(np.any(ao)), ao.ndim == 2 and ao.shape[1] > 1 and ao.strides[1] == 0))
        write(start, ao, do)

    run.device.write = spy  # type: ignore[method-assign]
    try:
        stop = run.engine.run(threading.Event())
    finally:
        run.close()
    assert stop.reason == "completed"
    return seen


def test_quiet_blocks_are_written_as_broadcast_views_at_speed_max(tmp_path):
    seen = _writes(tmp_path, None)
    assert any(touched for touched, _ in seen)  # the stimuli were written as arrays …
    assert not any(touched and broadcast for touched, broadcast in seen)
    quiet = [broadcast for touched, broadcast in seen if not touched]
    assert quiet and all(quiet)  # … and every block at rest as a view


@pytest.mark.parametrize("speed", [50.0])
def test_a_paced_device_is_written_real_arrays(tmp_path, speed):
    seen = _writes(tmp_path, speed)
    assert seen and not any(broadcast for _, broadcast in seen)
