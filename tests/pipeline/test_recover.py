"""`rig recover`: a clean copy of a crashed recording, with every intact sweep and nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import rig.commands.run  # noqa: F401 - import before capsys (ProgressBar binds sys.stderr at import)
from rig import cli
from rig.core.errors import UserError
from rig.storage import open_recording
from rig.storage.recover import clear_status_flags, lookup3, recover
from tests.storage_helpers import SEED, record, rows_equal, short_protocol

KILL_AFTER = 9


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    return record(tmp_path_factory.mktemp("ref"))


def _run_child(code: str) -> None:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr  # the child SIGKILLs itself


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A recorder SIGKILLed right after sweep KILL_AFTER − 1 was saved (mid-SWMR recording)."""
    d = tmp_path_factory.mktemp("killed")
    proto = short_protocol(d)
    _run_child(f"""
        import os, signal
        from pathlib import Path
        from rig.core.documents import Measured
        from rig.experiment.runner import RunOptions, run_experiment
        def killer(doc):
            if isinstance(doc, Measured) and doc.sweep_index == {KILL_AFTER - 1}:
                os.kill(os.getpid(), signal.SIGKILL)
        run_experiment(RunOptions(protocol=Path({str(proto)!r}), out=Path({str(d / 'k.h5')!r}), seed={SEED},
                                  speed=None, subscribers=[killer]))
    """)
    return d / "k.h5"


def test_lookup3_matches_the_checksum_hdf5_wrote(ref):
    head = ref.read_bytes()[:48]
    assert head[8] in (2, 3)  # superblock v2/v3
    assert lookup3(head[:44]) == int.from_bytes(head[44:48], "little")


def test_killed_swmr_file_opens_directly_and_recovers_every_sweep(killed, ref, tmp_path):
    with pytest.raises(OSError):
        h5py.File(killed, "r")  # a plain open is refused: the writer died with the file open
    with open_recording(killed) as r, open_recording(ref) as g:
        assert r.n_sweeps == KILL_AFTER and not r.complete and r.verify() == []
    rep = recover(killed, tmp_path / "clean.h5")
    assert rep["opened_directly"] and rep["sweeps_recovered"] == KILL_AFTER and rep["sweeps_dropped"] == 0
    with h5py.File(tmp_path / "clean.h5", "r") as f:  # the copy opens with a plain h5py open
        assert f.attrs["recovered_from"] == str(killed)
        assert f["status"][0]["stop_reason"] == b"recovered"
    with open_recording(tmp_path / "clean.h5") as c, open_recording(ref) as g:
        assert c.n_sweeps == KILL_AFTER and c.verify() == []
        assert rows_equal(c.sweep_table, g.sweep_table[:KILL_AFTER])
        for i in range(KILL_AFTER):
            assert np.array_equal(c.sweep_counts(i), g.sweep_counts(i))
            assert np.array_equal(c.pulse_samples(i), g.pulse_samples(i))
        n_meas = int(g.sweep_table["n_pulses"][:KILL_AFTER].sum())
        mine = c.all_measurements  # every version's rows (auto windows re-measure the first sweeps)
        assert len(mine) >= n_meas and mine.tobytes() == g.all_measurements[:len(mine)].tobytes()
        assert c.events[-1]["kind"] == "recovered" and c.attrs["protocol_text"] == g.attrs["protocol_text"]


def test_file_killed_before_swmr_needs_the_flags_cleared(tmp_path):
    """Killed in the milliseconds between reopening for the run and switching to SWMR."""
    p = tmp_path / "early.h5"
    _run_child(f"""
        import os, signal, h5py
        from rig.storage import RecordingWriter
        from rig.storage.layout import LIBVER
        RecordingWriter({str(p)!r}, 1, {{"created": "x"}})
        f = h5py.File({str(p)!r}, "r+", libver=LIBVER)
        f.attrs["sample_rate_hz"] = 20000.0
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    with pytest.raises(UserError, match="rig recover"):
        open_recording(p)
    before = p.read_bytes()
    rep = recover(p, tmp_path / "early-clean.h5")
    assert p.read_bytes() == before  # the original is never modified
    assert not rep["opened_directly"] and rep["sweeps_recovered"] == 0
    with open_recording(tmp_path / "early-clean.h5") as c:
        assert c.n_sweeps == 0 and c.attrs["created"] == "x"


def test_clear_status_flags_refuses_a_damaged_superblock(tmp_path, ref):
    p = tmp_path / "bad.h5"
    data = bytearray(ref.read_bytes())
    data[20] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(Exception, match="checksum"):
        clear_status_flags(p)


def test_a_damaged_last_sweep_is_dropped_and_reported(tmp_path, ref):
    p = tmp_path / "damaged.h5"
    shutil.copyfile(ref, p)
    with h5py.File(p, "r+") as f:
        n = f["sweeps"].shape[0]
        row = f["sweeps"][n - 1]
        f["samples"][row["offset"] + 10, 0] += 1  # one flipped count in the last sweep
    rep = recover(p, tmp_path / "fixed.h5")
    assert rep["sweeps_recovered"] == n - 1 and rep["sweeps_dropped"] == 1
    with open_recording(tmp_path / "fixed.h5") as c:
        assert c.n_sweeps == n - 1 and c.verify() == []
        assert len(c.measurements) == int(c.sweep_table["n_pulses"].sum())


def test_cli_recover_outputs_and_errors(killed, tmp_path, capsys):
    src = tmp_path / "k.h5"
    shutil.copyfile(killed, src)
    assert cli.main(["recover", str(src), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["sweeps_recovered"] == KILL_AFTER and rep["output"] == str(tmp_path / "k-recovered.h5")
    assert cli.main(["recover", str(src)]) == 2  # the default output exists now
    assert "exists; use --force" in capsys.readouterr().err
    assert cli.main(["recover", str(src), "--force"]) == 0
    assert "9 recovered of 9 listed" in capsys.readouterr().out
    assert cli.main(["recover", str(src), "--out", str(src)]) == 2
    assert cli.main(["recover", str(tmp_path / "missing.h5")]) == 2
    assert cli.main(["recover", str(src), "--out", str(tmp_path / "no" / "dir.h5")]) == 2
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    assert cli.main(["recover", str(junk)]) == 1
    assert "nothing recovered" in capsys.readouterr().err


def test_recover_keeps_an_older_format_as_it_is(tmp_path, ref):
    """A format 1.0 file (no crc32 in /sweeps) is copied in its own layout, not relabelled."""
    old = tmp_path / "v10.h5"
    with h5py.File(ref, "r") as src, h5py.File(old, "w", libver=("v110", "v110")) as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        dst.attrs["format_version"] = "1.0"
        for name in src:
            data = src[name][:]
            if name == "sweeps":
                keep = [n for n in data.dtype.names if n != "crc32"]
                data = np.array(data[keep].tolist(), dtype=[(n, data.dtype[n]) for n in keep])
            dst.create_dataset(name, data=data, maxshape=(None, *data.shape[1:]), chunks=True)
    rep = recover(old, tmp_path / "v10-clean.h5")
    with open_recording(tmp_path / "v10-clean.h5") as c, open_recording(ref) as g:
        assert rep["sweeps_recovered"] == g.n_sweeps and c.format_version == "1.0"
        assert "crc32" not in c.sweep_table.dtype.names and c.verify() == []
        assert np.array_equal(c.sweep_counts(g.n_sweeps - 1), g.sweep_counts(g.n_sweeps - 1))


def test_file_killed_before_the_run_started_is_a_valid_empty_recording(tmp_path):
    p = tmp_path / "notstarted.h5"
    _run_child(f"""
        import os, signal
        from rig.storage import RecordingWriter
        RecordingWriter({str(p)!r}, 1, {{"created": "x"}})
        os.kill(os.getpid(), signal.SIGKILL)  # e.g. during the detector's warm-up
    """)
    with h5py.File(p, "r") as f:  # a plain open works: the file was closed until the run starts
        assert f["status"][0]["stop_reason"] == b"not started"
    with open_recording(p) as r:
        assert r.n_sweeps == 0 and not r.complete
