"""Recover a recording after a crash: a clean, cleanly closed copy with every intact sweep.

The original is never modified. Steps:

1. Open the file read-only (as a SWMR reader, which works after a SIGKILL of a SWMR writer).
   If HDF5 refuses it because the writer died with the file open (superblock "file open for
   write" flags set), clear those flags on a temporary *copy* — what ``h5clear -s`` does — and
   open the copy.
2. Keep the longest run of sweeps 0…k−1 that lie inside /samples and /pulses and whose CRC-32
   matches (the writer's invariant makes every listed sweep intact; the check proves it).
3. Write them, their pulses and measurements, every event and phase, the attributes, and a
   ``recovered`` event into a new file with the same layout (docs/file-format.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from rig.core.events import Recovered, to_stored
from rig.storage import mea as mea_store
from rig.storage.integrity import DamagedRecording, TruncatedRecording, open_h5, read_superblock
from rig.storage.layout import EVENT_DTYPE, LIBVER, create_datasets
from rig.storage.reader import Recording, structure_problem

SIGNATURE = b"\x89HDF\r\n\x1a\n"


class RecoverError(Exception):
    """The file cannot be read at all (not HDF5, truncated superblock…)."""


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & 0xFFFFFFFF


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle`` — the checksum HDF5 puts in its metadata (H5checksum.c)."""
    m = 0xFFFFFFFF
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & m
    i = 0
    while n > 12:
        a = (a + int.from_bytes(data[i : i + 4], "little")) & m
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & m
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & m
        a = (a - c) & m; a ^= _rot(c, 4); c = (c + b) & m  # noqa: E702 - the reference's layout
        b = (b - a) & m; b ^= _rot(a, 6); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 8); b = (b + a) & m  # noqa: E702
        a = (a - c) & m; a ^= _rot(c, 16); c = (c + b) & m  # noqa: E702
        b = (b - a) & m; b ^= _rot(a, 19); a = (a + c) & m  # noqa: E702
        c = (c - b) & m; c ^= _rot(b, 4); b = (b + a) & m  # noqa: E702
        n -= 12
        i += 12
    if n == 0:
        return c
    tail = data[i:] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & m
    b = (b + int.from_bytes(tail[4:8], "little")) & m
    c = (c + int.from_bytes(tail[8:12], "little")) & m
    c ^= b; c = (c - _rot(b, 14)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 11)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 25)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 16)) & m  # noqa: E702
    a ^= c; a = (a - _rot(c, 4)) & m  # noqa: E702
    b ^= a; b = (b - _rot(a, 14)) & m  # noqa: E702
    c ^= b; c = (c - _rot(b, 24)) & m  # noqa: E702
    return c


def clear_status_flags(path: Path) -> int:
    """Clear the superblock's file-consistency flags (``h5clear -s``) in place; returns the old flags.

    Only superblock versions 2 and 3 (what libver ≥ 1.8 writes) carry them; the checksum is
    verified before and rewritten after.
    """
    with open(path, "r+b") as fh:
        for base in (0, 512, 1024, 2048, 4096, 8192):
            fh.seek(base)
            head = fh.read(12)
            if head[:8] == SIGNATURE:
                break
        else:
            raise RecoverError(f"{path}: no HDF5 superblock signature")
        version, size_off = head[8], head[9]
        if version not in (2, 3):
            raise RecoverError(f"{path}: superblock version {version} has no status flags to clear")
        n = 12 + 4 * size_off
        fh.seek(base)
        block = bytearray(fh.read(n + 4))
        if len(block) < n + 4 or lookup3(bytes(block[:n])) != int.from_bytes(block[n:], "little"):
            raise RecoverError(f"{path}: superblock checksum mismatch (file damaged)")
        old = block[11]
        block[11] = 0
        block[n:] = lookup3(bytes(block[:n])).to_bytes(4, "little")
        fh.seek(base)
        fh.write(block)
    return old


def intact_prefix(rec: Recording) -> int:
    """Number k of leading sweeps 0…k−1 that are intact (bounds, CRC, index == row)."""
    for i in range(rec.n_sweeps):
        if int(rec.sweep_table["index"][i]) != i or not rec.sweep_ok(i):
            return i
    return rec.n_sweeps


def intact_sweeps(rec: Recording) -> list[int]:
    """Rows of every sweep whose bounds and CRC-32 hold (a damaged sweep drops only itself)."""
    keep = []
    for i in range(rec.n_sweeps):
        try:
            if int(rec.sweep_table["index"][i]) == i and rec.sweep_ok(i):
                keep.append(i)
        except (OSError, RuntimeError, ValueError, IndexError):  # its samples cannot be read
            continue
    return keep


def _open_any(src: Path, workdir: Path) -> tuple[h5py.File, bool, Path | None]:
    """(file, opened_directly, temporary copy to delete). A truncated file is read from a copy
    padded with zeros to its recorded length (what is lost reads as zeros: its CRC fails)."""
    try:
        sb = read_superblock(src)
    except DamagedRecording as exc:
        raise RecoverError(str(exc)) from exc
    truncated = os.path.getsize(src) < sb.base + sb.eof
    if not truncated:
        try:
            return open_h5(src), True, None
        except (OSError, DamagedRecording) as exc:
            first: Exception = exc
    else:
        first = TruncatedRecording(f"truncated to {os.path.getsize(src)} of {sb.base + sb.eof} bytes")
    fd, tmp = tempfile.mkstemp(suffix=".h5", dir=workdir)
    os.close(fd)
    tmp_p = Path(tmp)
    try:
        shutil.copyfile(src, tmp_p)
        if truncated:
            os.truncate(tmp_p, sb.base + sb.eof)
        if sb.flags and sb.version in (2, 3):
            clear_status_flags(tmp_p)
        return h5py.File(tmp_p, "r"), False, tmp_p
    except (OSError, RecoverError) as exc:
        tmp_p.unlink(missing_ok=True)
        raise RecoverError(f"{src}: not readable as HDF5 ({first}); after repair: {exc}") from exc


def recover(src: Path, dst: Path) -> dict:
    """Write a clean copy of ``src`` to ``dst`` (which must not exist); return what was recovered."""
    src, dst = Path(src), Path(dst)
    f, direct, tmp = _open_any(src, dst.parent)
    try:
        try:
            problem = structure_problem(f)
            if problem:
                raise RecoverError(f"{src}: not an LTP Rig recording ({problem})")
            rec = Recording(f, src)
        except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise RecoverError(f"{src}: the sweep tables cannot be read ({str(exc).splitlines()[0][:160]}); "
                               "nothing to recover") from exc
        return _write_copy(rec, dst, direct)
    finally:
        f.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _write_copy(rec: Recording, dst: Path, direct: bool) -> dict:
    rows = intact_sweeps(rec)
    k = len(rows)
    table = rec.sweep_table[rows].copy()
    new_index = {old: new for new, old in enumerate(rows)}
    table["index"] = np.arange(k)
    samples = rec.f["samples"]
    pulses = rec.f["pulses"]
    n_ai = rec.n_ai
    status = np.array([rec.status])
    was_complete = bool(status["complete"][0])
    reason = status["stop_reason"][0].decode(errors="replace")
    status["sweeps"] = k
    if not was_complete or k < rec.n_sweeps:
        status["stop_reason"] = b"recovered"
    meas = rec.all_measurements[np.isin(rec.all_measurements["sweep_index"], rows)].copy()  # every version
    meas["sweep_index"] = [new_index[int(i)] for i in meas["sweep_index"]]
    if "averaged_n" in (meas.dtype.names or ()):  # 1.4: an averaged row's first sweep, renumbered too
        avg = meas["averaged_n"] > 0
        meas["first_sweep"][avg] = [new_index.get(int(i), -1) for i in meas["first_sweep"][avg]]
    report = {
        "source": str(rec.path), "output": str(dst), "opened_directly": direct,
        "format_version": rec.format_version, "was_complete": was_complete, "stop_reason": reason,
        "sweeps_listed": rec.n_sweeps, "sweeps_recovered": k, "sweeps_dropped": rec.n_sweeps - k,
        "dropped_sweeps": sorted(set(range(rec.n_sweeps)) - set(rows))[:1000],
        "measurements": int(len(meas)), "events": int(len(rec.event_table)), "phases": int(len(rec.phase_table)),
        "recorded_s": float(rec.duration_s) if np.isfinite(rec.duration_s) else 0.0,
    }
    with h5py.File(dst, "x", libver=LIBVER) as out:
        for key, v in rec.attrs.items():
            out.attrs[key] = v
        out.attrs["recovered_from"] = str(rec.path)
        out.attrs["recovery"] = json.dumps({**report, "host": socket.gethostname(),
                                            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        create_datasets(out, n_ai, rec.all_measurements.dtype, status, rec.sweep_table.dtype)  # the source's layout
        total = int(table["n_samples"].sum()) if k else 0
        out["samples"].resize(total, axis=0)
        n_p = int(table["n_pulses"].sum()) if k else 0
        out["pulses"].resize(n_p, axis=0)
        pos = ppos = 0
        for i in range(k):
            r = table[i]
            n, npl = int(r["n_samples"]), int(r["n_pulses"])
            out["samples"][pos : pos + n] = samples[int(r["offset"]) : int(r["offset"]) + n]
            out["pulses"][ppos : ppos + npl] = pulses[int(r["pulse_offset"]) : int(r["pulse_offset"]) + npl]
            table["offset"][i], table["pulse_offset"][i] = pos, ppos
            pos += n
            ppos += npl
        out["sweeps"].resize(k, axis=0)
        out["sweeps"][:] = table
        out["measurements"].resize(len(meas), axis=0)
        out["measurements"][:] = meas
        ev = rec.event_table
        fs = rec.sample_rate_hz if np.isfinite(rec.sample_rate_hz) else 1.0
        last = int(status["samples"][0])
        _, kind, text, data = to_stored(Recovered(
            sample=last, text=f"rig recover: {k} sweeps kept, {rec.n_sweeps - k} dropped", sweeps_recovered=k,
            sweeps_dropped=rec.n_sweeps - k, extra={"opened_directly": direct}))
        note = np.array([(last, last / fs, time.time(), kind.encode(), text.encode(), data.encode())],
                        dtype=EVENT_DTYPE)
        ev = np.concatenate([ev, note])
        for mark, n in (("measurement_rows", len(meas)), ("event_rows", len(ev))):  # format ≥ 1.3
            if mark in (status.dtype.names or ()):
                status[mark] = n
                out["status"][0] = status[0]
        out["events"].resize(len(ev), axis=0)
        out["events"][:] = ev
        out["phases"].resize(len(rec.phase_table), axis=0)
        out["phases"][:] = rec.phase_table
        report["mea_measurements"] = mea_store.copy(rec, out, new_index)  # MEA mode (format ≥ 1.4)
    return report
