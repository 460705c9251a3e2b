"""``rig analyze FILE … --save``: add an analysis version to a finished recording, crash-safe.

Every listed sweep is measured again from its raw samples (the field channel, its own scale) with
the given windows; the rows go to ``/measurements`` with the next version number, followed by one
``analysis`` event (docs/file-format.md, "Analysis versions"). Raw samples, sweeps, pulses, events
and the rows of earlier versions are left as they are.

Crash safety: the new version is written into a copy under a hidden name in the same folder
(``.NAME.h5.analysis``), flushed and ``fsync``ed, and only then renamed over the recording
(atomic). A kill at any moment leaves the recording as it was (earlier versions only) or with
the new version complete. A file recorded by format < 1.3 gains the ``analysis`` column (0 for
its online rows) in the copy.

Set ``RIG_SAVE_STALL=MARKER`` to have the save create MARKER and wait (≤ 120 s) just before the
rename (the crash test kills it there).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import h5py
import numpy as np

from rig.core import events as ev
from rig.core.errors import UserError
from rig.detector import measure_pulses
from rig.detector.measurement import PathwayWindows, Windows
from rig.detector.online import AVERAGED_KEYS, sweep_blocks
from rig.detector.versions import version_event
from rig.storage.layout import EVENT_DTYPE, LIBVER
from rig.storage.reader import open_recording

STALL_ENV = "RIG_SAVE_STALL"


def field_channel(attrs: dict) -> int:
    """The AI column of the field potential (``ai_kinds``: the first ``field``; else 0)."""
    try:
        kinds = json.loads(attrs.get("ai_kinds", "[]"))
        return kinds.index("field") if "field" in kinds else 0
    except (ValueError, TypeError):
        return 0


def _measure_all(rec, windows: PathwayWindows, version: int, dtype: np.dtype, average_n: int = 1) -> np.ndarray:
    """Every sweep measured with its pathway's windows; with ``average_n`` > 1 also the average of each
    block of N consecutive sweeps of a pathway (rows with ``averaged_n``, format 1.4)."""
    ch = field_channel(rec.attrs)
    fs = rec.sample_rate_hz
    table = rec.sweep_table
    out = []
    blocks = [[i] for i in range(rec.n_sweeps)]
    if average_n > 1:
        blocks += [g for g in sweep_blocks(table["pathway"], average_n, table["kind"]) if len(g) > 1]
    for g in blocks:
        r = table[g[-1]]
        traces = []
        for i in g:
            scale = rec.sweep_scale(i, ch)
            traces.append(rec.sweep_counts(i)[:, ch].astype(np.float64) * scale)
        scale = rec.sweep_scale(g[0], ch)
        pulses = np.asarray(rec.pulse_samples(g[0]), dtype=np.int64) - int(table["start_sample"][g[0]])
        if len(g) > 1 and len({t.size for t in traces}) > 1:
            continue  # sweeps of different lengths are not averaged
        trace = traces[0] if len(g) == 1 else np.mean(traces, axis=0)
        m = measure_pulses(trace, pulses, fs, windows.of(int(r["pathway"])), 32767 * scale * 0.999)
        rows = np.zeros(len(m), dtype=dtype)
        rows["sweep_index"], rows["pulse"] = g[-1], np.arange(len(m))
        rows["pathway"], rows["phase"], rows["sample"] = r["pathway"], r["phase"], r["stim_sample"]
        rows["analysis"] = version
        if len(g) > 1:
            rows["averaged_n"], rows["first_sweep"] = len(g), g[0]
        for name in m.dtype.names:
            if name in dtype.names:
                rows[name] = m[name]
        out.append(rows)
    return np.concatenate(out) if out else np.zeros(0, dtype=dtype)


def _event_row(version: int, method: str, windows: PathwayWindows, n: int, source: str) -> np.ndarray:
    e = version_event(version, source, method, windows, None, 0, n, -1,
                      f"analysis version {version} ({source}, {method}): {n} sweeps re-measured from the raw samples",
                      {})
    _, kind, text, data = ev.to_stored(e)
    return np.array([(0, 0.0, time.time(), kind.encode(), text.encode()[:256], data.encode())], dtype=EVENT_DTYPE)


def save_version(path: str | Path, windows: PathwayWindows | dict[int, Windows] | Windows,
                 method: str = "regression", source: str = "rig analyze", average_n: int = 1) -> dict:
    """Add one analysis version to the recording at ``path`` (every sweep with its pathway's windows;
    ``average_n`` > 1: also the averaged blocks); returns what was added."""
    p = Path(path)
    windows = PathwayWindows.of_any(windows)
    with open_recording(p) as rec:
        if not rec.complete:
            raise UserError(f"{p}: not a finished recording (being recorded, or killed): `rig recover {p}` "
                            "first, then save the analysis into the clean copy")
        if rec.verify():
            raise UserError(f"{p}: has damaged sweeps: `rig recover {p}` first")
        version = rec.analyses[-1]["version"] + 1
        old = rec.f["measurements"].dtype
        need = [("analysis", "i4")] + (list(AVERAGED_KEYS) if average_n > 1 else [])
        dtype = np.dtype(old.descr + [(k, t) for k, t in need if k not in (old.names or ())])
        rows = _measure_all(rec, windows, version, dtype, average_n)
        event = _event_row(version, method, windows, rec.n_sweeps, source)
    tmp = p.with_name(f".{p.name}.analysis")
    tmp.unlink(missing_ok=True)  # a leftover of a save that was killed
    shutil.copy2(p, tmp)
    try:
        with h5py.File(tmp, "r+", libver=LIBVER) as f:
            m = f["measurements"]
            if m.dtype != dtype:  # format < 1.3 (< 1.4): the analysis (averaged) columns, 0 for the older rows
                kept = m[:]
                del f["measurements"]
                m = f.create_dataset("measurements", shape=(0,), maxshape=(None,), dtype=dtype, chunks=(256,))
                upgraded = np.zeros(len(kept), dtype=dtype)
                for name in kept.dtype.names:
                    upgraded[name] = kept[name]
                m.resize(len(upgraded), axis=0)
                m[:] = upgraded
            status = f["status"][0]
            marks = status.dtype.names or ()
            # ≥ 1.3: append after the committed rows, then commit the new ones (the reader reads below the marks)
            n0 = int(status["measurement_rows"]) if "measurement_rows" in marks else m.shape[0]
            m.resize(n0 + len(rows), axis=0)
            m[n0:] = rows
            e = f["events"]
            k = int(status["event_rows"]) if "event_rows" in marks else e.shape[0]
            e.resize(k + 1, axis=0)
            e[k:] = event
            if "measurement_rows" in marks:
                status["measurement_rows"] = n0 + len(rows)
            if "event_rows" in marks:
                status["event_rows"] = k + 1
            f["status"][0] = status
            f.flush()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _stall_for_test()
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        d = os.open(p.parent, os.O_RDONLY)
        os.fsync(d)
        os.close(d)
    except OSError:
        pass
    single = rows[rows["averaged_n"] == 0] if "averaged_n" in dtype.names else rows
    return {"file": str(p), "version": version, "method": method, "sweeps": int(single["sweep_index"].max() + 1)
            if len(single) else 0, "rows": int(len(rows)), "averaged_rows": int(len(rows) - len(single))}


def _stall_for_test() -> None:
    marker = os.environ.get(STALL_ENV)
    if marker:
        Path(marker).write_text("saving")
        time.sleep(120)
