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
from rig.detector.measurement import Windows
from rig.storage.layout import EVENT_DTYPE, LIBVER
from rig.storage.reader import open_recording

STALL_ENV = "RIG_SAVE_STALL"
EVENT_DATA_BYTES = 1024


def field_channel(attrs: dict) -> int:
    """The AI column of the field potential (``ai_kinds``: the first ``field``; else 0)."""
    try:
        kinds = json.loads(attrs.get("ai_kinds", "[]"))
        return kinds.index("field") if "field" in kinds else 0
    except (ValueError, TypeError):
        return 0


def _measure_all(rec, windows: dict[int, Windows] | Windows, version: int, dtype: np.dtype) -> np.ndarray:
    ch = field_channel(rec.attrs)
    fs = rec.sample_rate_hz
    out = []
    for i in range(rec.n_sweeps):
        r = rec.sweep_table[i]
        w = windows.get(int(r["pathway"]), Windows()) if isinstance(windows, dict) else windows
        scale = rec.sweep_scale(i, ch)
        trace = rec.sweep_counts(i)[:, ch].astype(np.float64) * scale
        pulses = np.asarray(rec.pulse_samples(i), dtype=np.int64) - int(r["start_sample"])
        m = measure_pulses(trace, pulses, fs, w, 32767 * scale * 0.999)
        rows = np.zeros(len(m), dtype=dtype)
        rows["sweep_index"], rows["pulse"] = i, np.arange(len(m))
        rows["pathway"], rows["phase"], rows["sample"] = r["pathway"], r["phase"], r["stim_sample"]
        rows["analysis"] = version
        for name in m.dtype.names:
            if name in dtype.names:
                rows[name] = m[name]
        out.append(rows)
    return np.concatenate(out) if out else np.zeros(0, dtype=dtype)


def _event_row(version: int, method: str, windows: dict[int, Windows] | Windows, n: int, fs: float,
               source: str) -> np.ndarray:
    per = windows if isinstance(windows, dict) else {0: windows}
    first = per[min(per)] if per else Windows()
    differ = {str(pw): w.to_dict() for pw, w in per.items() if w != first}
    e = ev.AnalysisVersion(sample=0, version=version, source=source, method=method, windows=first.to_dict(),
                           remeasured=n, first_sweep=-1, text=f"analysis version {version} ({source}, {method}): "
                           f"{n} sweeps re-measured from the raw samples",
                           extra={"pathway_windows": differ} if differ else {})
    _, kind, text, data = ev.to_stored(e)
    if len(data.encode()) > EVENT_DATA_BYTES:
        e = ev.AnalysisVersion(**{**{k: getattr(e, k) for k in ("sample", "version", "source", "method", "windows",
                                                                 "remeasured", "first_sweep")},
                                  "text": e.text + " (per-pathway windows too long to record)"})
        _, kind, text, data = ev.to_stored(e)
    return np.array([(0, 0.0, time.time(), kind.encode(), text.encode()[:256], data.encode())], dtype=EVENT_DTYPE)


def save_version(path: str | Path, windows: dict[int, Windows] | Windows, method: str = "regression",
                 source: str = "rig analyze") -> dict:
    """Add one analysis version to the recording at ``path``; returns what was added."""
    p = Path(path)
    with open_recording(p) as rec:
        if not rec.complete:
            raise UserError(f"{p}: not a finished recording (being recorded, or killed): `rig recover {p}` "
                            "first, then save the analysis into the clean copy")
        if rec.verify():
            raise UserError(f"{p}: has damaged sweeps: `rig recover {p}` first")
        version = rec.analyses[-1]["version"] + 1
        old = rec.f["measurements"].dtype
        dtype = old if "analysis" in (old.names or ()) else np.dtype(old.descr + [("analysis", "i4")])
        rows = _measure_all(rec, windows, version, dtype)
        event = _event_row(version, method, windows, rec.n_sweeps, rec.sample_rate_hz, source)
    tmp = p.with_name(f".{p.name}.analysis")
    tmp.unlink(missing_ok=True)  # a leftover of a save that was killed
    shutil.copy2(p, tmp)
    try:
        with h5py.File(tmp, "r+", libver=LIBVER) as f:
            m = f["measurements"]
            if m.dtype != dtype:  # format < 1.3: the analysis column, 0 for the online rows
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
    return {"file": str(p), "version": version, "method": method, "sweeps": int(rows["sweep_index"].max() + 1)
            if len(rows) else 0, "rows": int(len(rows))}


def _stall_for_test() -> None:
    marker = os.environ.get(STALL_ENV)
    if marker:
        Path(marker).write_text("saving")
        time.sleep(120)
