"""Read a recording (finished, crashed or still being written) with plain h5py in SWMR mode."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from rig.core.errors import UserError
from rig.core.events import Event, from_stored
from rig.storage import analyses
from rig.storage.integrity import DamagedRecording, open_h5, truncation
from rig.storage.layout import counts_crc32

TABLES = ("samples", "sweeps", "pulses", "measurements", "events", "phases", "status")


class Recording:
    """A recording as numpy arrays. ``refresh()`` picks up what a live writer added since."""

    def __init__(self, f: h5py.File, path: Path, analysis: int | None = None) -> None:
        self.f = f
        self.asked_analysis = analysis  # None: the newest version
        self.path = path
        self.attrs = dict(f.attrs)
        self.format_version = str(self.attrs.get("format_version", ""))
        self.sample_rate_hz = float(self.attrs.get("sample_rate_hz", np.nan))
        self.mV_per_count = np.asarray(self.attrs.get("ai_mV_per_count", [1.0]), dtype=float)
        self.mV_offset = np.asarray(self.attrs.get("ai_mV_offset", np.zeros(len(self.mV_per_count))), dtype=float)
        #: (real size, recorded length) when the file is cut short (sweeps beyond the cut fail their CRC)
        self.truncated: tuple[int, int] | None = truncation(path)
        self.refresh()

    def refresh(self) -> None:
        """Reload every table (SWMR: ``dset.refresh()``, never ``dset.id.refresh()``)."""
        if self.f.swmr_mode:
            for name in TABLES:
                self.f[name].refresh()
        self.n_sample_rows = int(self.f["samples"].shape[0])
        self.n_pulse_rows = int(self.f["pulses"].shape[0])
        table = self.f["sweeps"][:]
        n = len(table)
        while n and not self._row_in_bounds(table[n - 1], n - 1):
            n -= 1  # a row a failed last flush left unwritten (zeros) is not a listed sweep
        self.sweep_table = table[:n]
        self.status = self.f["status"][0]
        #: every analysis version's committed rows
        self.all_measurements = committed_measurements(self.f["measurements"][:], self.status, n)
        self.event_table = committed_events(self.f["events"][:], self.status)
        self.analyses = analyses.versions(self.attrs, self.events)
        self.analysis = analyses.check_version(self.path, self.analyses, self.asked_analysis)
        #: the rows of the analysis version in use (:attr:`analysis`): what every result reads
        self.measurements = analyses.rows_of(self.all_measurements, self.analyses, self.analysis)
        #: the averaged measurements of that version (format ≥ 1.4: rows with ``averaged_n`` > 0)
        self.averaged = analyses.averaged_rows_of(self.all_measurements, self.analyses, self.analysis)
        self.phase_table = self.f["phases"][:]
        self._damaged: list[int] | None = None

    @property
    def analysis_info(self) -> dict:
        """The analysis version in use: version, source, method, windows, time_s, …"""
        return next(k for k in self.analyses if k["version"] == self.analysis)

    @property
    def n_sweeps(self) -> int:
        return len(self.sweep_table)

    @property
    def n_ai(self) -> int:
        return int(self.f["samples"].shape[1])

    @property
    def events(self) -> list[dict]:
        """Events as dicts: sample, time_s, kind, text, data (decoded JSON)."""
        out = []
        for r in self.event_table:
            try:
                data = json.loads(r["data"].decode() or "{}")
            except ValueError:
                data = {}
            out.append({"sample": int(r["sample"]), "time_s": float(r["time_s"]), "kind": r["kind"].decode(),
                        "text": r["text"].decode(errors="replace"), "data": data})
        return out

    @property
    def typed_events(self) -> list[Event]:
        """Events as the types of :mod:`rig.core.events` (unknown kinds as ``UnknownEvent``)."""
        return [from_stored(e["sample"], e["kind"], e["text"], e["data"]) for e in self.events]

    @property
    def phases(self) -> list[dict]:
        return [{"index": int(r["index"]), "name": r["name"].decode(), "kind": r["kind"].decode(),
                 "start_sample": int(r["start_sample"])} for r in self.phase_table]

    @property
    def windows(self) -> dict:
        """Analysis windows (ms from the pulse) at the start; later changes are events of kind ``windows``."""
        try:
            return json.loads(self.attrs.get("windows", "{}"))
        except ValueError:
            return {}

    @property
    def pathway_windows(self) -> dict:
        """Each pathway's own windows at the start (format ≥ 1.4: pathway index → the entries that
        differ from :attr:`windows`; {} when every pathway uses them)."""
        return analyses._json_attr(self.attrs, "pathway_windows")

    @property
    def metadata(self) -> dict:
        """The protocol's metadata block (subject, drug, experimenter…)."""
        try:
            return json.loads(self.attrs.get("metadata", "{}"))
        except ValueError:
            return {}

    def sweep_counts(self, i: int) -> np.ndarray:
        """Raw int16 ADC counts of sweep ``i``, shape (n_samples, n_ai)."""
        r = self.sweep_table[i]
        return self.f["samples"][r["offset"] : r["offset"] + r["n_samples"]]

    def sweep_mV(self, i: int, channel: int = 0) -> np.ndarray:
        """Sweep ``i`` of one AI channel in mV at the electrode (float64): counts × scale + offset.

        The channel a gain telegraph scales (attribute ``gain_channel``) uses the sweep's own
        ``gain_mV_per_count`` (format ≥ 1.2): the gain in use when it was recorded."""
        counts = self.sweep_counts(i)[:, channel].astype(np.float64)
        return counts * self.sweep_scale(i, channel) + self.mV_offset[channel]

    def sweep_scale(self, i: int, channel: int = 0) -> float:
        """mV per count of ``channel`` in sweep ``i`` (the per-sweep gain where a telegraph scales it)."""
        if channel == int(self.attrs.get("gain_channel", -1)) and "gain_mV_per_count" in self.sweep_table.dtype.names:
            s = float(self.sweep_table[i]["gain_mV_per_count"])
            if np.isfinite(s):
                return s
        return float(self.mV_per_count[channel])

    def pulse_samples(self, i: int) -> np.ndarray:
        """Absolute onset sample of every pulse of sweep ``i``."""
        r = self.sweep_table[i]
        return self.f["pulses"][r["pulse_offset"] : r["pulse_offset"] + r["n_pulses"]]

    def _row_in_bounds(self, r: np.void, i: int) -> bool:
        return bool(r["index"] == i and r["n_samples"] > 0 and 0 <= r["offset"]
                    and r["offset"] + r["n_samples"] <= self.n_sample_rows
                    and 0 <= r["pulse_offset"] and r["pulse_offset"] + r["n_pulses"] <= self.n_pulse_rows)

    def sweep_ok(self, i: int) -> bool:
        """True if sweep ``i`` lies inside /samples and /pulses, is row ``i``, and its CRC-32 matches."""
        r = self.sweep_table[i]
        if not self._row_in_bounds(r, i):
            return False
        if "crc32" not in self.sweep_table.dtype.names:
            return True
        try:
            return counts_crc32(self.sweep_counts(i)) == int(r["crc32"])
        except (OSError, RuntimeError):  # its samples cannot be read (damaged or cut-off file)
            return False

    def verify(self) -> list[int]:
        """Row numbers of sweeps that fail :meth:`sweep_ok` (empty for a sound file; computed once
        per :meth:`refresh`)."""
        if self._damaged is None:
            self._damaged = self._find_damaged()
        return list(self._damaged)

    def _find_damaged(self, span_bytes: int = 16 << 20) -> list[int]:
        """:meth:`sweep_ok` of every sweep, the samples of consecutive sweeps read together (one
        read of up to ``span_bytes`` instead of one per sweep: start-up of ``rig summary``); a sweep
        in a span that cannot be read is checked alone by :meth:`sweep_ok`."""
        t = self.sweep_table
        if "crc32" not in t.dtype.names:
            return [i for i in range(self.n_sweeps) if not self.sweep_ok(i)]
        span_rows = max(1, span_bytes // (2 * max(1, int(np.prod(self.f["samples"].shape[1:])))))
        bad: set[int] = set()
        span: list[int] = []  # sweeps whose samples follow each other in /samples

        def check(span: list[int]) -> None:
            lo, hi = int(t[span[0]]["offset"]), int(t[span[-1]]["offset"] + t[span[-1]]["n_samples"])
            try:
                rows = self.f["samples"][lo:hi]
            except (OSError, RuntimeError):
                bad.update(i for i in span if not self.sweep_ok(i))
                return
            for i in span:
                a = int(t[i]["offset"]) - lo
                if counts_crc32(rows[a : a + int(t[i]["n_samples"])]) != int(t[i]["crc32"]):
                    bad.add(i)

        for i in range(self.n_sweeps):
            if not self._row_in_bounds(t[i], i):
                bad.add(i)
                continue
            start = int(t[i]["offset"])
            if span and (start != int(t[span[-1]]["offset"] + t[span[-1]]["n_samples"])
                         or start + int(t[i]["n_samples"]) - int(t[span[0]]["offset"]) > span_rows):
                check(span)
                span = []
            span.append(i)
        if span:
            check(span)
        return sorted(bad)

    @property
    def duration_s(self) -> float:
        """Experiment time on the sample clock (0 before the run started)."""
        fs = self.sample_rate_hz
        return float(self.status["samples"]) / fs if np.isfinite(fs) and fs > 0 else 0.0

    @property
    def complete(self) -> bool:
        """True once the run ended and the file was closed cleanly — and it was not cut short since."""
        return bool(self.status["complete"]) and self.truncated is None

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _mark(status: np.void, name: str) -> int | None:
    """A commit mark of ``/status`` (format ≥ 1.3), None in older files."""
    return int(status[name]) if name in (status.dtype.names or ()) else None


def committed_measurements(m: np.ndarray, status: np.void, n_sweeps: int) -> np.ndarray:
    """The measurement rows that are data: below the commit mark ``measurement_rows`` (older
    files: the leading rows whose (sweep, pulse) keys strictly increase — a zero row that a disk
    full left behind repeats a key), and of a listed sweep."""
    mark = _mark(status, "measurement_rows")
    if mark is not None:  # ≥ 1.3: later analysis versions re-measure earlier sweeps, keys may repeat
        m = m[: max(mark, 0)]
    elif len(m) > 1 and "pulse" in (m.dtype.names or ()):
        key = m["sweep_index"].astype(np.int64) * (1 << 32) + m["pulse"].astype(np.int64)
        bad = np.flatnonzero(np.diff(key) <= 0)
        if bad.size:
            m = m[: bad[0] + 1]
    return m[(m["sweep_index"] >= 0) & (m["sweep_index"] < n_sweeps)]


def committed_events(e: np.ndarray, status: np.void) -> np.ndarray:
    """Event rows below the commit mark ``event_rows`` (format ≥ 1.3) that have a kind (a row a
    failed flush left unwritten is all zeros)."""
    mark = _mark(status, "event_rows")
    if mark is not None:
        e = e[: max(mark, 0)]
    return e[e["kind"] != b""] if len(e) else e


def open_recording(path: str | Path, analysis: int | None = None) -> Recording:
    """Open a recording read-only (works while it is being written, and after a crash), its
    measurements those of analysis version ``analysis`` (None: the newest; a missing one is refused).

    Never hangs and never lets a damaged file through as a traceback: a truncated file, a file
    that is not HDF5, missing datasets or wrong attribute types raise :class:`UserError` naming
    the file and what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such recording")
    try:
        f = open_h5(p)
    except DamagedRecording:
        raise
    except OSError as exc:
        raise UserError(f"{p}: not a readable HDF5 recording ({_first_line(exc)}); try `rig recover {p}`") from exc
    try:
        problem = structure_problem(f)
        if problem:
            raise UserError(f"{p}: not an LTP Rig recording ({problem})")
        return Recording(f, p, analysis)
    except UserError:
        f.close()
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        f.close()
        cut = truncation(p)
        if cut is not None:
            raise UserError(f"{p}: truncated: {cut[0]} of {cut[1]} bytes, its tables cannot be read; "
                            f"try `rig recover {p}`") from exc
        raise UserError(f"{p}: damaged recording ({type(exc).__name__}: {_first_line(exc)}); "
                        f"try `rig recover {p}`") from exc


def structure_problem(f: h5py.File) -> str:
    """What makes ``f`` not a recording of this layout ('' if nothing): datasets, fields, attributes."""
    if "format_version" not in f.attrs:
        return "no format_version"
    want = {"samples": ("offset",), "sweeps": ("index", "offset", "n_samples", "pulse_offset", "n_pulses"),
            "pulses": (), "measurements": ("sweep_index",), "events": ("kind", "text", "data"),
            "phases": ("name", "kind", "start_sample"), "status": ("complete", "samples")}
    for name, fields in want.items():
        d = f.get(name)
        if not isinstance(d, h5py.Dataset):
            return f"no /{name} dataset"
        if name == "samples":
            if d.ndim != 2 or d.dtype.kind != "i":
                return "/samples is not a 2-D integer dataset"
            continue
        names = d.dtype.names or ()
        missing = [x for x in fields if x not in names]
        if missing:
            return f"/{name} lacks field(s) {missing}"
    if f["status"].shape != (1,):
        return "/status is not one row"
    for key in ("sample_rate_hz",):
        v = f.attrs.get(key)
        if v is not None and not isinstance(v, (int, float, np.number)):
            return f"attribute {key} is {type(v).__name__}, not a number"
    return ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]
