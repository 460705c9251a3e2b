"""A multi-site rig on the NI backend (issue 19): one multi-channel AI task for every site's
input, the AO/DO lines of every site on the shared clock — against real nidaqmx.Task objects over
the autospecced interpreter (tests/nidaq_fake.py)."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest

from rig.cli import main
from rig.storage import open_recording

try:
    from nidaq_fake import FakeBoard
except ImportError:  # tests/ imported as a package
    from tests.nidaq_fake import FakeBoard

RIG = """
backend = "nidaq"
device = "Dev1"
sample_rate_hz = 20000.0
site_guard_s = 0.1
do_lines = ["port0/line0", "port0/line1"]

[[ai]]
name = "field_A"
channel = "ai0"
gain = 1000.0

[[ai]]
name = "field_B"
channel = "ai1"
gain = 1000.0
terminal = "rse"

[[stim]]
pathway = "A1"
ao = "ao0"
uA_per_V = 100.0
trigger_line = "port0/line0"

[[stim]]
pathway = "B1"
ao = "ao1"
uA_per_V = 100.0
trigger_line = "port0/line1"

[[site]]
name = "A"
ai = "field_A"
stim = ["A1"]

[[site]]
name = "B"
ai = "field_B"
stim = ["B1"]

[limits]
max_intensity_uA = 500.0
"""

PROTOCOL = """
[experiment]
name = "nidaq sites"

[stimulation]
pathways = ["S1"]
intensity_uA = [{uA}]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 0.05
interval_s = 0.5
"""


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: 0, 1: 1})  # each site's AO wired to its own field input
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


def test_two_sites_share_one_ai_task_and_the_output_clock(board, tmp_path, capsys):
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    (tmp_path / "a.toml").write_text(PROTOCOL.format(uA=150.0))
    (tmp_path / "b.toml").write_text(PROTOCOL.format(uA=300.0))
    out = tmp_path / "run.sites.json"
    rc = main(["run", "--rig", str(rig), "--site", f"A={tmp_path / 'a.toml'}", "--site", f"B={tmp_path / 'b.toml'}",
               "--out", str(out), "--no-gui", "--json"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in summary["sites"]] == ["completed", "completed"]
    # one AI task with both sites' inputs; one AO task and one DO task with every site's lines
    ais = [t for t in board.timed("ai") if not t.name.endswith("ratecheck")]  # (the rate read-back task)
    aos, dos = board.timed("ao"), board.timed("do")
    assert len(ais) == 1 and [c[0] for c in ais[0].ai] == ["Dev1/ai0", "Dev1/ai1"]
    assert len(aos) == 1 and [c[0] for c in aos[0].ao] == ["Dev1/ao0", "Dev1/ao1"]
    assert len(dos) == 1 and aos[0].trigger[0] == dos[0].trigger[0] == "/Dev1/ai/StartTrigger"
    index = json.loads(out.read_text())
    offset = index["sites"][1]["offset_samples"]
    assert offset > 0
    for site, volts in zip(index["sites"], (1.5, 3.0), strict=True):
        with open_recording(tmp_path / site["file"]) as rec:
            assert rec.complete and rec.n_sweeps == 6
            lsb_V = 10.0 / 32768  # ±10 V range, 16 bits
            for i in range(rec.n_sweeps):
                r = rec.sweep_table[i]
                v = rec.sweep_counts(i)[:, 0] * lsb_V  # V at the ADC: the site's own AO, looped back
                onsets = np.flatnonzero(np.diff((v > 0.5).astype(int)) == 1) + 1 + int(r["start_sample"])
                assert onsets.tolist() == [int(r["stim_sample"])]  # its own pulse only, at its sample
                assert v.max() == pytest.approx(volts, abs=2e-3)
    # every exit path: outputs closed, 0 V written, board reset
    assert all(t.cleared for t in board.tasks)
    zero_ao = [t for t in board.of_kind("ao") if t.timing is None][-1]
    assert np.all(zero_ao.immediate[-1] == 0.0)
