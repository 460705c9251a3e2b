"""Regressions of issue 17: a disk that filled up mid-flush left a zero measurement row (sweep 0,
slope 0, flags 0) that readers took for data (baseline biased 1.6–5.9 %) and `rig recover` copied;
a disk already full at creation gave a two-line message and a 0-byte file.

Rows now become valid only once complete: the row is written and flushed, then ``/status``
commits it (``measurement_rows``, ``event_rows``, format 1.3). Real runs on a real, small tmpfs
(skipped where mounting is not permitted), and an injected failing write in process."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from rig.analysis import results
from rig.storage import StorageError, open_recording
from rig.storage.recover import recover
from rig.storage.writer import RecordingWriter
from tests.hostile_run import ROOT
from tests.storage_helpers import SEED, record, rows_equal, short_protocol

FIXTURE_1_1 = ROOT / "tests" / "fixtures" / "recording_format_1_1.h5"


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("ref"), "ref.h5")


@pytest.fixture
def small_disk(tmp_path):
    """A real 4 MB tmpfs (root only)."""
    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mount not permitted here: {r.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _fill(d: Path, free_bytes: int) -> None:
    st = os.statvfs(d)
    with open(d / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - free_bytes))


def _run(tmp_path: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig.cli", "run", str(short_protocol(tmp_path)), "--sim", "--speed",
                           "max", "--seed", str(SEED), "--out", str(out), "--no-gui"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def _same_measurements_as_ref(got, want) -> None:
    n = got.n_sweeps
    m, w = got.all_measurements, want.all_measurements[: len(got.all_measurements)]
    # every version's rows in writing order (the auto windows' version re-measures the first sweeps)
    assert set(m["sweep_index"].tolist()) == set(range(n)) and rows_equal(m, w)
    assert not np.any((m["sample"] == 0) & (m["slope_mV_per_ms"] == 0))  # no zero row


@pytest.mark.parametrize("free_kB", [300, 450, 600])
def test_disk_full_mid_run_leaves_no_zero_measurement_row(tmp_path, small_disk, ref, free_kB):
    _fill(small_disk, free_kB * 1024)
    out = small_disk / "r.h5"
    r = _run(tmp_path, out)
    assert r.returncode == 1, r.stderr
    assert "No space left on device" in r.stderr and "Traceback" not in r.stderr
    with open_recording(out) as got, open_recording(ref) as want:
        assert 0 < got.n_sweeps < want.n_sweeps and got.verify() == []
        _same_measurements_as_ref(got, want)
        # the baseline is that of the same sweeps of the complete run: not biased by a zero slope
        n = got.n_sweeps
        base = results.compute(got).pathways
        assert all(np.isfinite(p.baseline_mean) for p in base.values() if p.n_baseline)
        assert all(e["kind"] for e in got.events)
    clean = tmp_path / "clean.h5"
    recover(out, clean)
    with open_recording(clean) as rec, open_recording(ref) as want:
        assert rec.n_sweeps == n
        _same_measurements_as_ref(rec, want)


@pytest.mark.parametrize("free_kB", [0, 8, 100])
def test_disk_full_at_creation_one_line_and_no_file(tmp_path, small_disk, free_kB):
    _fill(small_disk, free_kB * 1024)
    out = small_disk / "r.h5"
    r = _run(tmp_path, out)
    assert r.returncode == 1, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"rig: failed: {out}: only"), r.stderr
    assert "free" in lines[0] and "nothing was stimulated" in lines[0]
    assert not out.exists() and not (small_disk / ".r.h5.starting").exists()


def test_injected_failing_write_leaves_rows_beyond_the_commit_mark(tmp_path, ref, monkeypatch):
    """A flush that writes the tables' new extent but not their rows (what ENOSPC does when HDF5
    cannot allocate the chunk): the rows read back as zeros and must not count."""
    real_flush_data = RecordingWriter._flush_data
    state = {"n": 0}

    def failing_flush_data(self):
        committed, n0 = int(self.status["measurement_rows"][0]), self._rows["measurements"]
        state["n"] += n0 > committed  # the first flush of a sweep (its measurement rows not committed yet)
        if state["n"] == 12:
            d = self.ds["measurements"]
            d[committed:n0] = np.zeros(n0 - committed, dtype=d.dtype)  # the extent reaches the disk, the rows not
            self.f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_flush_data(self)

    monkeypatch.setattr(RecordingWriter, "_flush_data", failing_flush_data)
    with pytest.raises(StorageError, match="No space left on device"):
        record(tmp_path, "inj.h5")
    with h5py.File(tmp_path / "inj.h5", "r", swmr=True) as f:
        raw = f["measurements"][:]
        assert np.any(raw["sample"] == 0)  # the zero row is in the file ...
    with open_recording(tmp_path / "inj.h5") as got, open_recording(ref) as want:
        _same_measurements_as_ref(got, want)  # ... and never read as data


def test_trailing_zero_rows_are_ignored_in_a_copy_of_a_real_recording(tmp_path, ref):
    p = tmp_path / "tail.h5"
    shutil.copyfile(ref, p)
    with open_recording(ref) as r:
        want_m, want_e = r.measurements.copy(), r.event_table.copy()
        want_res = {k: v.to_dict() for k, v in results.compute(r).pathways.items()}
    with h5py.File(p, "r+") as f:
        for name, k in (("measurements", 3), ("events", 2)):
            f[name].resize(f[name].shape[0] + k, axis=0)
    with open_recording(p) as r:
        assert rows_equal(r.measurements, want_m) and len(r.event_table) == len(want_e)
        assert {k: v.to_dict() for k, v in results.compute(r).pathways.items()} == want_res


def test_a_format_1_1_file_with_a_zero_row_drops_it(tmp_path):
    """Files without the commit marks: a zero row repeats a (sweep, pulse) key and is dropped."""
    p = tmp_path / "old.h5"
    shutil.copyfile(FIXTURE_1_1, p)
    with open_recording(p) as r:
        want = r.measurements.copy()
    with h5py.File(p, "r+") as f:
        f["measurements"].resize(f["measurements"].shape[0] + 1, axis=0)
    with open_recording(p) as r:
        assert len(want) and rows_equal(r.measurements, want)
