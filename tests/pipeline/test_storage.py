"""The recording format: what the writer stores, in which order, and what plain h5py reads back."""

from __future__ import annotations

import errno
import json
import resource
import subprocess
import sys
import zlib

import h5py
import numpy as np
import pytest

import rig.commands.run  # noqa: F401 - import now: ProgressBar binds sys.stderr at import (not capsys's)
from rig import cli, detector
from rig.core.documents import Measured, RunStart, Sweep
from rig.storage import RecordingWriter, StorageError, open_recording
from rig.storage.layout import FORMAT_VERSION, counts_crc32
from rig.storage.writer import RecordingWriter as _Writer
from tests.storage_helpers import SEED, record, rows_equal, short_protocol


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    return record(tmp_path_factory.mktemp("rec"))


def test_complete_recording_holds_every_table_and_provenance(rec_path):
    with open_recording(rec_path) as r:
        assert r.complete and r.status["stop_reason"] == b"completed"
        assert r.format_version == FORMAT_VERSION
        assert r.n_sweeps > 100 and r.verify() == []
        assert set(r.sweep_table["pathway"]) == {0, 1}
        assert set(r.sweep_table["kind"]) == {b"test", b"train"}
        # per-sweep stimulus parameters and pulses
        tbs = np.flatnonzero(r.sweep_table["kind"] == b"train")
        assert len(tbs) == 2 and all(r.sweep_table["n_pulses"][i] == 20 for i in tbs)
        for i in (0, 1, int(tbs[0])):
            row = r.sweep_table[i]
            assert r.pulse_samples(i)[0] == row["stim_sample"]
            assert row["time_s"] == pytest.approx(row["stim_sample"] / r.sample_rate_hz)
            assert row["start_sample"] < row["stim_sample"] < row["start_sample"] + row["n_samples"]
        # measurements: one row per pulse of every sweep
        assert len(r.measurements) == int(r.sweep_table["n_pulses"].sum())
        assert np.all(np.diff(r.measurements["sweep_index"]) >= 0)
        # phases and events
        assert [p["kind"] for p in r.phases] == ["baseline", "induction", "follow_up"]
        kinds = [e["kind"] for e in r.events]
        assert kinds.count("induction") == 1 and kinds[-1] == "outputs_zeroed"
        # provenance
        a = r.attrs
        assert "[[phases]]" in a["protocol_text"] and "sample_rate_hz" in a["rig_text"]
        assert json.loads(a["versions"])["h5py"] == h5py.__version__
        assert a["seed"] == SEED and a["host"] and a["created"]
        assert json.loads(a["metadata"])["animal_id"] == "crash-1"
        assert r.windows == detector.Windows().to_dict()
        # integrity counters, all zero on a clean simulated run
        for k in ("gaps", "lost_samples", "overruns", "late_writes", "sweeps_lost"):
            assert r.status[k] == 0
        assert r.status["samples"] >= r.sweep_table["start_sample"][-1] + r.sweep_table["n_samples"][-1]


def test_plain_h5py_reads_a_sweep_as_the_doc_says(rec_path):
    """docs/file-format.md, 'Reading with plain h5py', step by step — no rig code."""
    with h5py.File(rec_path, "r") as f:
        i = 5
        row = f["sweeps"][i]
        counts = f["samples"][row["offset"] : row["offset"] + row["n_samples"]]
        mV = counts[:, 0] * f.attrs["ai_mV_per_count"][0] + f.attrs["ai_mV_offset"][0]
        rel = np.arange(row["n_samples"]) + row["start_sample"] - row["stim_sample"]
        t_ms = rel / f.attrs["sample_rate_hz"] * 1e3
        assert zlib.crc32(counts.astype("<i2").tobytes()) == row["crc32"]
        m = f["measurements"][:]
        slope = m[(m["sweep_index"] == i) & (m["pulse"] == 0)]["slope_mV_per_ms"][0]
    with open_recording(rec_path) as r:
        assert np.array_equal(mV, r.sweep_mV(i))
    assert t_ms[0] < 0 < t_ms[-1]
    assert slope < 0  # an fEPSP slope is negative


def test_file_is_closed_and_valid_until_the_run_starts(tmp_path):
    p = tmp_path / "x.h5"
    w = RecordingWriter(p, 1, {"created": "now"})
    with h5py.File(p, "r") as f:  # a plain open: not locked, not half-written
        assert f.attrs["format_version"] == FORMAT_VERSION
        assert f["status"][0]["stop_reason"] == b"not started"
        assert f["samples"].shape == (0, 1) and f["sweeps"].shape == (0,)
    w.close()
    with pytest.raises(StorageError, match="never overwritten"):
        RecordingWriter(p, 1, {})


def _docs(n_samples: int = 400):
    start = RunStart(20000.0, ("ai0",), (0.01,), (0,), "t", 10**6, 0.0, seed=1, provenance={"host": "h"})
    counts = np.arange(n_samples, dtype=np.int16)[None, :]
    sweep = Sweep(0, 0, 0, "test", 1000, 1100, np.array([1100]), 50.0, 2, counts, 0.0)
    meas = Measured(0, 0, 0, 1100, np.zeros(1, dtype=detector.MEASUREMENT_DTYPE))
    return start, sweep, meas


def test_a_sweep_is_listed_only_after_its_data_and_measurements(tmp_path):
    w = RecordingWriter(tmp_path / "o.h5", 1, {})
    start, sweep, meas = _docs()
    w(start)
    w(sweep)
    assert w.ds["samples"].shape[0] == 400 and w.ds["sweeps"].shape[0] == 0
    w(meas)
    assert w.ds["sweeps"].shape[0] == 1 and w.ds["measurements"].shape[0] == 1
    assert w.ds["sweeps"][0]["crc32"] == counts_crc32(sweep.counts.T)
    w.close()


def test_injected_write_error_stops_the_run_zeroes_outputs_keeps_sweeps(tmp_path, monkeypatch):
    ref = record(tmp_path, "ref.h5")

    devices = []
    import rig.experiment.assemble as assemble

    real_make = assemble.make_device

    def make_device(*a, **kw):
        devices.append(real_make(*a, **kw))
        return devices[-1]

    monkeypatch.setattr(assemble, "make_device", make_device)
    real_append = _Writer._append
    state = {"n": 0, "zeroed_at_failure": None}

    def failing_append(self, name, rows):
        if name == "samples":
            state["n"] += 1
            if state["n"] == 8:  # the 8th sweep hits a full disk
                state["zeroed_at_failure"] = devices[0].zeroed_count
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(self, name, rows)

    monkeypatch.setattr(_Writer, "_append", failing_append)
    with pytest.raises(StorageError, match=r"No space left on device.*outputs zeroed.*7 complete sweeps"):
        record(tmp_path, "full.h5")
    dev = devices[0]
    assert dev.zeroed_count > state["zeroed_at_failure"]  # zeroed after the failure
    assert not dev.running and not np.any(dev.last_ao_V) and not dev._pending
    with open_recording(tmp_path / "full.h5") as r, open_recording(ref) as g:
        assert r.n_sweeps == 7 and r.verify() == [] and not r.complete
        assert rows_equal(r.sweep_table, g.sweep_table[:7])
        for i in range(7):
            assert np.array_equal(r.sweep_counts(i), g.sweep_counts(i))


@pytest.fixture(scope="module")
def ref_path(tmp_path_factory):
    return record(tmp_path_factory.mktemp("ref"), "ref.h5")


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("limit_bytes", [166_000, 189_000, 250_000])  # 1.4 rows: 12 bytes more
def test_disk_full_exits_1_with_one_line_and_a_readable_file(tmp_path, ref_path, limit_bytes):
    """A file-size limit (ulimit -f) stands in for a full disk: write() fails with EFBIG.

    The limits hit different writes (a new /samples chunk, a flush's metadata).
    """
    ref = ref_path
    out = tmp_path / "limited.h5"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    r = subprocess.run([sys.executable, "-m", "rig.cli", "run", str(short_protocol(tmp_path)), "--speed", "max",
                        "--seed", str(SEED), "--out", str(out), "--no-gui"],
                       preexec_fn=limit, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("rig: failed")]
    assert len(errors) == 1 and "Traceback" not in r.stderr
    assert f"cannot write {out} (File too large" in errors[0] and "outputs zeroed" in errors[0]
    with open_recording(out) as got, open_recording(ref) as want:
        n = got.n_sweeps
        assert 0 < n < want.n_sweeps and got.verify() == []
        assert f"the {n} complete sweeps" in errors[0]
        for i in range(n):
            assert np.array_equal(got.sweep_counts(i), want.sweep_counts(i))


def test_run_refuses_an_existing_out_file(tmp_path, capsys):
    out = tmp_path / "taken.h5"
    out.write_bytes(b"an earlier experiment")
    code = cli.main(["run", str(short_protocol(tmp_path)), "--speed", "max", "--out", str(out), "--no-gui"])
    assert code == 2
    assert "never overwritten" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier experiment"


def test_run_without_out_picks_a_new_name_and_says_so(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    import rig.experiment.runner as runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "default_out_path", lambda plan: Path("recordings") / "same.h5")
    proto = str(short_protocol(tmp_path))
    assert cli.main(["run", proto, "--speed", "max", "--no-gui"]) == 0
    first = (tmp_path / "recordings" / "same.h5").read_bytes()
    capsys.readouterr()
    assert cli.main(["run", proto, "--speed", "max", "--no-gui"]) == 0
    err = capsys.readouterr().err
    assert "recordings/same.h5 exists" in err and "recording to recordings/same-1.h5 instead" in err
    assert (tmp_path / "recordings" / "same.h5").read_bytes() == first
    assert open_recording(tmp_path / "recordings" / "same-1.h5").complete


def test_the_docs_reading_example_runs_on_a_recording(rec_path, monkeypatch):
    """The plain-h5py example in docs/file-format.md §10 runs as written."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "file-format.md").read_text()
    code = doc.split("## 10. Reading with plain h5py", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(rec_path.parent)
    ns: dict = {}
    exec(compile(code, "file-format.md", "exec"), ns)  # noqa: S102 - our own documentation
    with open_recording(rec_path) as r:
        assert np.array_equal(ns["mV"], r.sweep_mV(5))
        assert len(ns["slopes"]) == r.n_sweeps and ns["windows"] == r.windows
        assert len(r.analyses) > 1  # the auto windows made a version: the example reads the newest rows
        m = r.measurements
        np.testing.assert_array_equal(ns["slopes"], m[m["pulse"] == 0]["slope_mV_per_ms"])
        assert [k for _, k, _ in ns["events"]] == [e["kind"] for e in r.events]


def test_a_trailing_unwritten_sweep_row_is_not_listed(rec_path, tmp_path):
    """What a disk-full during the last flush can leave: /sweeps one row longer, the row all zeros."""
    import shutil

    p = tmp_path / "tail.h5"
    shutil.copyfile(rec_path, p)
    with h5py.File(p, "r+") as f:
        n = f["sweeps"].shape[0]
        f["sweeps"].resize(n + 1, axis=0)
    with open_recording(p) as r:
        assert r.n_sweeps == n and r.verify() == []
