"""The disk under a recording: free space before it starts, one-line reasons for write errors,
closing a file after one without touching the disk again, and names that are never overwritten."""

from __future__ import annotations

import os
import re
from pathlib import Path

import h5py

from rig.core.errors import RunFailure

#: A recording starts only with this much free space (its placeholder and start-up take ~100 kB:
#: HDF5 failing inside those first writes left a 0-byte file or crashed at exit).
MIN_FREE_BYTES = 256 * 1024


class StorageError(RunFailure):
    """The recording could not be written (disk full, I/O error): the run must stop (exit 1)."""


def unique_path(path: Path) -> Path:
    """``path`` if free, else ``name-1.h5``, ``name-2.h5``, … (a recording is never overwritten)."""
    if not (path.exists() or path.is_symlink()):  # a dangling link is taken too
        return path
    k = 1
    while True:
        cand = path.with_name(f"{path.stem}-{k}{path.suffix}")
        if not (cand.exists() or cand.is_symlink()):
            return cand
        k += 1


def error_reason(exc: BaseException) -> str:
    """One line for a write error: the OS error text if HDF5's message names an errno."""
    text = str(exc)
    m = re.search(r"errno = (\d+)", text)  # HDF5's multi-line message names the OS error
    if m:
        return f"{os.strerror(int(m.group(1)))}, errno {m.group(1)}"
    if isinstance(exc, OSError) and exc.strerror and exc.errno:
        return f"{exc.strerror.splitlines()[0]}, errno {exc.errno}"
    return (text.splitlines() or [type(exc).__name__])[0]


def check_free_space(path: Path) -> None:
    """Refuse to start a recording on a disk that is (nearly) full: one line, nothing created."""
    try:
        st = os.statvfs(path.parent)
    except (OSError, AttributeError):  # no statvfs (Windows) or no such folder: creation will say
        return
    free = st.f_bavail * st.f_frsize
    if free < MIN_FREE_BYTES:
        raise StorageError(f"{path}: only {free // 1024} kB free on its disk, a recording needs at least "
                           f"{MIN_FREE_BYTES // 1024} kB to start; free some space or choose another --out "
                           "(nothing was stimulated)")


def discard_after_error(f: h5py.File, datasets: tuple = ()) -> None:
    """Close ``f`` without touching the disk again (after a write error).

    The descriptor is pointed at /dev/null first, so whatever HDF5 still wants to write on close
    goes nowhere: the file keeps the state of its last flush, and the library closes cleanly
    instead of failing again (or crashing at exit: a failed close left HDF5 ids that segfault).
    """
    try:
        fd = f.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    except Exception:  # noqa: BLE001 - best effort; the close below still runs
        pass
    try:
        for d in datasets:
            d.id.close()
        f.close()
    except Exception:  # noqa: BLE001
        pass
