"""rig.experiment.assemble: a run assembled there behaves like `rig run`'s."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rig.core.errors import UserError
from rig.experiment.assemble import assemble_run, check_plan_limits
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import load_rig
from rig.storage import open_recording

ROOT = Path(__file__).resolve().parents[2]


def _plan():
    rig, _ = load_rig(None)
    proto, _ = load_protocol(ROOT / "protocols" / "tbs_ltp.toml")
    return expand(proto, rig, "tbs"), rig


def test_stop_flag_stops_an_assembled_run_and_the_file_is_closed(tmp_path):
    plan, rig = _plan()
    run = assemble_run(plan, rig, out=tmp_path / "a.h5")
    stop = threading.Event()
    stop.set()
    try:
        assert run.engine.run(stop).reason == "interrupted"
    finally:
        run.close()
    with open_recording(tmp_path / "a.h5") as rec:
        assert rec.n_sweeps == 0


def test_plan_made_for_another_rate_than_the_rig_is_refused(tmp_path):
    plan, rig = _plan()
    other = rig.model_copy(update={"sample_rate_hz": 10000.0})
    with pytest.raises(UserError, match="sample rate"):
        assemble_run(plan, other, out=tmp_path / "b.h5")
    assert not (tmp_path / "b.h5").exists()


def test_shipped_plan_is_within_the_rig_limits():
    plan, rig = _plan()
    check_plan_limits(plan, rig.stim_limits())
