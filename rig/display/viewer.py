"""``rig view FILE``: a finished or in-progress recording in the rig window, read-only.

:class:`RecordingSource` turns the reader's tables (``rig.storage.open_recording``) into the
documents the live window consumes, incrementally: on each ``refresh()`` only rows the writer
added since are fed (SWMR), so a recording still being written keeps growing on screen. The
sweep browser (spin box, Left/Right, PgUp/PgDown) shows one recorded sweep with the running
average of the N sweeps of its pathway before it and the pathway's baseline average.
"""

from __future__ import annotations

import json
import math

import numpy as np

from rig.core.documents import Measured, PhaseStart, RunStart, RunStop
from rig.core.events import from_stored
from rig.display.feed import SweepInfo
from rig.display.model import TIME_COURSE_SWEEP_KINDS, DisplayModel

KEY_FIELDS = ("sweep_index", "pulse", "pathway", "phase", "sample")


def _s(v: object) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


class RecordingSource:
    """Feeds a :class:`DisplayModel` from a recording (``rig.storage.Recording``)."""

    def __init__(self, rec, model: DisplayModel) -> None:
        self.rec = rec
        self.model = model
        self.fed = {"sweeps": 0, "events": 0, "phases": 0}
        self.stopped = False
        attrs = rec.attrs
        pathways = attrs.get("pathways")
        if pathways is None or len(np.atleast_1d(pathways)) == 0:
            pathways = np.unique(rec.sweep_table["pathway"]) if rec.n_sweeps else [0]
        channels = attrs.get("ai_channels", "[]")
        try:
            channels = tuple(json.loads(channels))
        except (TypeError, ValueError):
            channels = ()
        model.apply(RunStart(
            sample_rate_hz=rec.sample_rate_hz, ai_channels=channels,
            ai_scale_mV_per_count=tuple(float(x) for x in rec.mV_per_count),
            pathways=tuple(int(p) for p in np.atleast_1d(pathways)),
            plan_name=_s(attrs.get("plan_name", "")),
            planned_samples=int(attrs.get("planned_samples", 0)), wall_time=0.0,
            provenance={"windows": rec.windows, "pathway_windows": rec.pathway_windows}))
        self._baseline_cache: dict[int, tuple[int, np.ndarray | None]] = {}
        self.refresh(reload=False)

    def refresh(self, reload: bool = True) -> bool:
        """Feed what the writer added since the last call; True when something was new."""
        rec, m = self.rec, self.model
        if reload:
            rec.refresh()
        new = False
        phases = rec.phases
        for ph in phases[self.fed["phases"]:]:
            m.apply(PhaseStart(ph["index"], ph["name"], ph["kind"], ph["start_sample"]))
            new = True
        self.fed["phases"] = len(phases)
        events = rec.events
        for ev in events[self.fed["events"]:]:
            m.apply(from_stored(ev["sample"], ev["kind"], ev["text"], ev["data"]))
            new = True
        self.fed["events"] = len(events)
        table = rec.sweep_table
        if len(table) > self.fed["sweeps"]:
            meas = rec.measurements
            first = meas[meas["pulse"] == 0] if "pulse" in meas.dtype.names else meas
            by_sweep = {int(i): k for k, i in enumerate(first["sweep_index"])}
            fields = [n for n in meas.dtype.names if n not in KEY_FIELDS]
            rec_dtype = np.dtype([(n, meas.dtype.fields[n][0]) for n in fields])
            for r in table[self.fed["sweeps"]:]:
                i = int(r["index"])
                m.apply(SweepInfo(i, int(r["pathway"]), int(r["phase"]), _s(r["kind"]),
                                  int(r["start_sample"]), int(r["stim_sample"]),
                                  int(r["n_samples"]), float(r["intensity_uA"]),
                                  float(r["wall_time"])))
                k = by_sweep.get(i)
                if k is not None:
                    row = first[k]
                    records = np.zeros(1, rec_dtype)
                    for n in fields:
                        records[n] = row[n]
                    m.apply(Measured(i, int(row["pathway"]), int(row["phase"]),
                                     int(row["sample"]), records))
            self.fed["sweeps"] = len(table)
            new = True
        status = rec.status
        m._advance(int(status["samples"]))
        if rec.complete and not self.stopped:
            m.apply(RunStop(int(status["samples"]), _s(status["stop_reason"]) or "completed",
                            gaps=int(status["gaps"]), lost_samples=int(status["lost_samples"])))
            self.stopped = True
            new = True
        return new

    # ------------------------------------------------------------------ sweep browsing
    def _trace(self, i: int, channel: int) -> tuple[np.ndarray, np.ndarray]:
        r = self.rec.sweep_table[i]
        y = self.rec.sweep_mV(i, channel)
        x = (np.arange(len(y)) + int(r["start_sample"]) - int(r["stim_sample"])) * (
            1000.0 / self.rec.sample_rate_hz)
        return x, y

    def _same_kind(self, pathway: int, upto: int | None = None) -> np.ndarray:
        t = self.rec.sweep_table if upto is None else self.rec.sweep_table[: upto + 1]
        kinds = np.array([_s(k) for k in t["kind"]])
        return np.flatnonzero((t["pathway"] == pathway) & np.isin(kinds, TIME_COURSE_SWEEP_KINDS))

    def baseline_average(self, pathway: int, n_samples: int, channel: int = 0):
        """Mean of the test sweeps of the reference baseline phase (None when there are none)."""
        ref = self.model.baseline_phase()
        if ref is None:
            return None
        cached = self._baseline_cache.get(pathway)
        if cached is not None and cached[0] == ref:
            return cached[1]
        idx = [i for i in self._same_kind(pathway) if self.rec.sweep_table[i]["phase"] == ref
               and self.rec.sweep_table[i]["n_samples"] == n_samples]
        avg = np.mean([self.rec.sweep_mV(i, channel) for i in idx], axis=0) if idx else None
        self._baseline_cache[pathway] = (ref, avg)
        return avg

    def show_sweep(self, i: int) -> int:
        """Put recorded sweep ``i`` in the sweep panel of its pathway; returns its pathway."""
        m = self.model
        r = self.rec.sweep_table[i]
        p = int(r["pathway"])
        m._ensure_pathway(p)
        ch = min(m.channel_of_pathway.get(p, 0), len(self.rec.mV_per_count) - 1)
        x, y = self._trace(i, ch)
        v = m.sweeps[p]
        v.x_ms, v.latest, v.latest_index, v.latest_kind = x, y, int(r["index"]), _s(r["kind"])
        same = [k for k in self._same_kind(p, upto=i)
                if self.rec.sweep_table[k]["n_samples"] == len(y)][-m.n_average:]
        if len(same) > 1:
            v.average = np.mean([self.rec.sweep_mV(k, ch) for k in same], axis=0)
            v.average_x_ms, v.n_average = x, len(same)
        else:
            v.average, v.n_average = None, 0
        v.baseline = self.baseline_average(p, len(y), ch)
        v.average_x_ms = x
        meas = self.rec.measurements
        hit = meas[(meas["sweep_index"] == int(r["index"])) & (meas["pulse"] == 0)]
        if len(hit):
            fields = [n for n in meas.dtype.names if n not in KEY_FIELDS]
            rec1 = np.zeros(1, np.dtype([(n, meas.dtype.fields[n][0]) for n in fields]))
            for n in fields:
                rec1[n] = hit[0][n]
            m.latest_measure[p] = (int(r["index"]), rec1[0])
        m.v_sweeps[p] += 1
        return p

    def describe(self, i: int) -> str:
        r = self.rec.sweep_table[i]
        t = float(r["time_s"]) if "time_s" in r.dtype.names else math.nan
        head = (f"sweep {int(r['index'])} · S{int(r['pathway']) + 1} · {_s(r['kind'])} · "
                f"phase {int(r['phase'])} · {float(r['intensity_uA']):.0f} µA · t = {t / 60:.2f} min")
        values = self.measured(i)
        return f"{head}  —  {values}" if values else head

    def measured(self, i: int) -> str:
        """The browsed sweep's measured values (first pulse) and its slope as % of baseline."""
        r = self.rec.sweep_table[i]
        meas = self.rec.measurements
        hit = meas[(meas["sweep_index"] == int(r["index"])) & (meas["pulse"] == 0)]
        if not len(hit):
            return "not measured"
        row, names = hit[0], meas.dtype.names
        parts = []
        for name, label, unit, scale in (("slope_mV_per_ms", "slope", "mV/ms", 1.0),
                                         ("volley_mV", "volley", "mV", 1.0),
                                         ("amplitude_mV", "amplitude", "mV", 1.0),
                                         ("noise_mV", "noise", "µV", 1000.0)):
            if name in names and math.isfinite(float(row[name])):
                parts.append(f"{label} {float(row[name]) * scale:.3g} {unit}")
        base = self.model.baseline_mean(int(r["pathway"]))
        if "slope_mV_per_ms" in names and base and math.isfinite(base):
            parts.insert(1, f"{float(row['slope_mV_per_ms']) / base * 100:.0f} % of baseline")
        if int(row["flags"]):
            from rig.detector.measurement import flag_names

            parts.append("flags: " + ", ".join(flag_names(int(row["flags"]))))
        return " · ".join(parts)
