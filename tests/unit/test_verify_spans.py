"""``Recording.verify`` reads the samples of consecutive sweeps together (start-up of ``rig
summary``): it names exactly the sweeps :meth:`sweep_ok` fails one by one — damaged samples, a bad
CRC, rows out of bounds or out of order, spans of any size, and a span whose read fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest

from rig.storage import open_recording
from tests.storage_helpers import record


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("real"))


def _one_by_one(r) -> list[int]:
    return [i for i in range(r.n_sweeps) if not r.sweep_ok(i)]


def _damage(src: Path, dst: Path) -> list[int]:
    """Damage sweeps 2 (samples), 5 (CRC), 7 (offset past the end) and 9 (moved onto sweep 8's samples)."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        t = f["sweeps"][:]
        a = int(t[2]["offset"])
        f["samples"][a : a + 3] = 77
        t[5]["crc32"] ^= 1
        t[7]["offset"] = f["samples"].shape[0]
        t[9]["offset"], t[9]["crc32"] = t[8]["offset"], t[8]["crc32"]  # valid, but not after sweep 8
        t[9]["n_samples"] = t[8]["n_samples"]
        f["sweeps"][:] = t
    return [2, 5, 7]


def test_sound_file_verifies_clean(real):
    with open_recording(real) as r:
        assert r.n_sweeps > 10 and r.verify() == [] == _one_by_one(r)


@pytest.mark.parametrize("span_bytes", [1, 4000, 50_000, 16 << 20])
def test_damaged_sweeps_as_sweep_ok_finds_them(real, tmp_path, span_bytes):
    want = _damage(real, tmp_path / "d.h5")
    with open_recording(tmp_path / "d.h5") as r:
        assert _one_by_one(r) == want
        assert r._find_damaged(span_bytes) == want
        assert r.verify() == want


def test_a_span_that_cannot_be_read_is_checked_sweep_by_sweep(real, tmp_path, monkeypatch):
    want = _damage(real, tmp_path / "d.h5")
    with open_recording(tmp_path / "d.h5") as r:
        calls = []
        real_ok = type(r).sweep_ok

        def sweep_ok(self, i):
            calls.append(i)
            return real_ok(self, i)

        class Unreadable:  # every read of more than one sweep's samples fails
            def __init__(self, d):
                self.d, self.shape = d, d.shape

            def __getitem__(self, s):
                if s.stop - s.start > int(r.sweep_table["n_samples"].max()):
                    raise OSError("can't read data")
                return self.d[s]

        f = r.f

        class F:
            swmr_mode = f.swmr_mode

            def __getitem__(self, name):
                return Unreadable(f[name]) if name == "samples" else f[name]

        monkeypatch.setattr(type(r), "sweep_ok", sweep_ok)
        r.f = F()
        try:
            assert r._find_damaged() == want
        finally:
            r.f = f
        assert calls  # the fallback ran
