"""Open an HDF5 recording so that no file, however damaged, can hang a reader.

Two traps, both measured on truncated recordings: HDF5 opened as a SWMR reader does not compare
the superblock's end-of-file address with the real size, and it retries a metadata block whose
checksum fails with an exponential back-off that runs for hours (100 attempts). So, before HDF5
sees a file: its superblock is parsed and a file shorter than its recorded length is refused
(:class:`TruncatedRecording`); a closed file is opened plainly (a bad checksum fails at once);
only a file still open for writing (live, or its writer died) is opened as a SWMR reader, with
the metadata read attempts capped (``H5Pset_metadata_read_attempts``).
"""

from __future__ import annotations

import ctypes
import glob
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import h5py

from rig.core.errors import UserError

SIGNATURE = b"\x89HDF\r\n\x1a\n"
SWMR_READ_ATTEMPTS = 24  # back-off doubles from 1 ns: 24 attempts wait ≈ 17 ms in all


class DamagedRecording(UserError):
    """The file is not a sound HDF5 recording (the message names the file and what is wrong)."""


class TruncatedRecording(DamagedRecording):
    """The file is shorter than the length its superblock records."""


@dataclass(frozen=True)
class Superblock:
    version: int
    base: int  # absolute offset of the superblock (the file's base address)
    eof: int  # end-of-file address recorded by the writer, relative to ``base``
    flags: int  # file-consistency flags (v2/v3: 0 once the writer closed the file)


def read_superblock(path: Path) -> Superblock:
    """Parse the superblock (versions 0–3). Raises :class:`DamagedRecording`."""
    with open(path, "rb") as fh:
        for base in (0, 512, 1024, 2048, 4096, 8192):
            fh.seek(base)
            head = fh.read(96)
            if head[:8] == SIGNATURE:
                break
        else:
            raise DamagedRecording(f"{path}: not an HDF5 file (no superblock signature)")
    version = head[8]
    if version in (2, 3):
        size_off, flags, at = head[9], head[11], 12
        eof_at = at + 2 * size_off
    elif version in (0, 1):
        size_off = head[13]
        flags = int.from_bytes(head[20:24], "little")
        at = 24 if version == 0 else 28
        eof_at = at + 2 * size_off
    else:
        raise DamagedRecording(f"{path}: unknown HDF5 superblock version {version}")
    if size_off not in (2, 4, 8) or len(head) < eof_at + size_off:
        raise DamagedRecording(f"{path}: damaged HDF5 superblock (offset size {size_off})")
    eof = int.from_bytes(head[eof_at : eof_at + size_off], "little")
    return Superblock(version=version, base=base, eof=eof, flags=flags)


def check_length(path: Path) -> Superblock:
    """The superblock, after checking the file is at least as long as it records."""
    sb = read_superblock(path)
    size = os.path.getsize(path)
    if size < sb.base + sb.eof:
        raise TruncatedRecording(
            f"{path}: truncated: {size} of {sb.base + sb.eof} bytes "
            f"({100.0 * size / max(sb.base + sb.eof, 1):.0f} %); `rig recover {path}` keeps every intact sweep")
    return sb


@lru_cache(maxsize=1)
def _hdf5_lib() -> ctypes.CDLL | None:
    """The HDF5 library h5py uses (for the one call h5py does not wrap), or None."""
    here = os.path.dirname(h5py.__file__)
    names = glob.glob(os.path.join(here, os.pardir, "h5py.libs", "libhdf5-*.so*"))
    names += glob.glob(os.path.join(here, ".dylibs", "libhdf5.*.dylib"))
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            lib.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def open_swmr_reader(path: Path) -> h5py.File:
    """Open as a SWMR reader with capped metadata read attempts (raises OSError)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    lib = _hdf5_lib()
    if lib is not None:
        lib.H5Pset_metadata_read_attempts(fapl.id, SWMR_READ_ATTEMPTS)
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


def truncation(path: Path) -> tuple[int, int] | None:
    """(real size, recorded length) of a file shorter than its superblock records, else None."""
    sb = read_superblock(path)
    size = os.path.getsize(path)
    return (size, sb.base + sb.eof) if size < sb.base + sb.eof else None


def open_h5(path: Path) -> h5py.File:
    """Open read-only without any risk of hanging: plainly when the writer closed the file, else
    as a SWMR reader with capped read attempts (a live or crashed file, or one cut short — a disk
    that filled up mid-flush leaves such a file; what is missing then fails fast). Raises
    :class:`DamagedRecording` for a non-HDF5 file (or a truncated one when the attempts cannot be
    capped), OSError when HDF5 refuses it."""
    sb = read_superblock(path)
    if truncation(path) is not None:
        if _hdf5_lib() is None:
            check_length(path)
        return open_swmr_reader(path)
    if sb.flags == 0 or sb.version < 2:
        try:
            return h5py.File(path, "r")
        except OSError:
            if sb.version < 2:
                raise
    return open_swmr_reader(path)
