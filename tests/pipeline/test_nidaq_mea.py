"""MEA mode on the NI backend (issue 19): one AI task with all 64 electrodes on the shared sample
clock, the isolator's AO slaved to it — against real nidaqmx.Task objects over the autospecced
interpreter (tests/nidaq_fake.py)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from nidaqmx.constants import TerminalConfiguration
from nidaqmx.errors import DaqError

from rig.cli import main
from rig.storage import mea as mea_store
from rig.storage import open_recording

try:
    from nidaq_fake import FakeBoard
except ImportError:  # tests/ imported as a package
    from tests.nidaq_fake import FakeBoard

RIG = """
backend = "nidaq"
device = "Dev1"
sample_rate_hz = 20000.0

[mea]
rows = 8
cols = 8
pitch_um = 200.0
channels = "ai0:63"
gain = 1000.0
terminal = "rse"
field_electrode = 29
stim_electrodes = { S1 = 20 }

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0

[limits]
max_intensity_uA = 500.0
"""

PROTOCOL = """
[experiment]
name = "nidaq mea"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]
width_us = 100.0

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 0.05
interval_s = 0.5
"""

STIM_COLUMN = 20  # AI columns: electrode 29 (the field one) first, then 1 … 28, 30 … 64: electrode 20 is column 20


@pytest.fixture
def board():
    b = FakeBoard(loopback={0: STIM_COLUMN})  # the stimulus generator's AO seen on the stimulating electrode
    with mock.patch("nidaqmx.utils._select_interpreter", autospec=True) as sel:
        sel.return_value = b.interp
        yield b


@pytest.fixture
def files(tmp_path):
    rig = tmp_path / "mea_ni.toml"
    rig.write_text(RIG)
    proto = tmp_path / "p.toml"
    proto.write_text(PROTOCOL)
    return rig, proto, tmp_path / "rec.h5"


def test_mea_rig_records_64_electrodes_in_one_ai_task_on_the_shared_clock(board, files, capsys):
    rig, proto, out = files
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    assert rc == 0, capsys.readouterr().err
    ais = [t for t in board.timed("ai") if not t.name.endswith("ratecheck")]
    assert len(ais) == 1, "one AI task holds every electrode"
    chans = [c[0] for c in ais[0].ai]
    # the field electrode (29, on ai28) first, then the others in electrode order
    assert chans == ["Dev1/ai28", *[f"Dev1/ai{k}" for k in range(64) if k != 28]]
    assert {c[1] for c in ais[0].ai} == {TerminalConfiguration.RSE.value}
    assert {(c[2], c[3]) for c in ais[0].ai} == {(-10.0, 10.0)}
    rate, _source, _edge, _mode, _samps = ais[0].timing
    assert rate == 20000.0
    (ao,) = board.timed("ao")
    assert ao.timing[1] == "/Dev1/ai/SampleClock" and ao.trigger[0] == "/Dev1/ai/StartTrigger"
    with open_recording(out) as rec:
        assert rec.complete and rec.n_ai == 64 and rec.n_sweeps == 6
        mea = mea_store.read(rec)
        assert mea.layout.electrodes[STIM_COLUMN] == 20
        assert [c.decode() for c in mea.electrodes["channel"]] == [c.split("/")[1] for c in chans]
        assert len(mea.measurements) == 64 * rec.n_sweeps
        lsb_V = 10.0 / 32768
        for i in range(rec.n_sweeps):
            r = rec.sweep_table[i]
            v = rec.sweep_counts(i)[:, STIM_COLUMN] * lsb_V  # the AO command, looped back
            onsets = np.flatnonzero(np.diff((v > 0.5).astype(int)) == 1) + 1 + int(r["start_sample"])
            assert onsets.tolist() == [int(r["stim_sample"])]
            assert np.ptp(rec.sweep_counts(i)[:, 0]) < 20  # the field electrode: the board's slow ramp, no pulse
    # every exit path: outputs closed, 0 V written, board reset
    assert all(t.cleared for t in board.tasks)
    zero_ao = [t for t in board.of_kind("ao") if t.timing is None][-1]
    assert np.all(zero_ao.immediate[-1] == 0.0)


def test_a_board_too_slow_for_64_channels_is_one_line_naming_the_aggregate_rate(board, files, capsys):
    rig, proto, out = files
    real = board.interp.cfg_samp_clk_timing.side_effect

    def refuse(h, rate, source, edge, mode, samps):
        if len(board.by_handle[h].ai) > 32:
            raise DaqError("Requested sample clock rate is not supported for the number of channels.", -200081)
        return real(h, rate, source, edge, mode, samps)

    board.interp.cfg_samp_clk_timing.side_effect = refuse
    rc = main(["run", str(proto), "--rig", str(rig), "--out", str(out), "--no-gui"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("rig:")]
    assert rc == 1 and len(lines) == 1, err
    assert "64 channels × 20000 Hz = 1.28 MS/s" in lines[0] and "-200081" in lines[0]
    assert not board.timed("ao"), "nothing was armed"
