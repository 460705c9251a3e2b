"""Export a recording to NWB 2 with pynwb (validated by nwbinspector, readable by neo).

Mapping (docs/file-format.md, "NWB export"):

- every sweep → one ``TimeSeries`` (``ElectricalSeries`` with ``electrical=True``) in
  ``/acquisition`` named ``sweep_00001``, float32 mV
  (``unit="volts"``, ``conversion=1e-3``; mV = counts × mV/count exactly as the reader computes),
  ``rate`` = sample rate and ``starting_time`` = the sweep's first sample on the experiment clock;
  ``comments`` holds ``{"block": …, "segment": "sweep 00001"}`` so neo puts each sweep in its own
  Segment. The electrodes table has one row per AI channel (recording electrode, ElectrodeGroup,
  Device from the rig file) and one row per stimulating electrode (pathway, isolator scaling);
- the stimulus → one ``TimeSeries`` per pathway in ``/stimulus``: the intensity (µA, stored as
  amperes with conversion 1e-6) of every delivered pulse at its onset time (irregular timestamps);
  the pulse width is in the description;
- the per-sweep table → ``TimeIntervals`` ``sweeps`` (start/stop time, pathway, phase, kind,
  stimulus time and parameters, a reference to the sweep's series);
- phases → ``epochs`` (tags = phase kind); measurements → a ``DynamicTable`` in the processing
  module ``ecephys``; events → an ``EventsTable`` ``rig_events``;
- subject from the protocol's metadata block; session start = the run's wall-clock start.
"""

from __future__ import annotations

import json
import math
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rig.analysis import results
from rig.analysis.ppr import ppr_course
from rig.analysis.summary import slope_field_of
from rig.storage import Recording

LOCATION = "CA1"  # Allen Mouse Brain CCF abbreviation (nwbinspector); the layer is in the group description
SPECIES = "Mus musculus"  # the genotypes a protocol can name (WT, Fmr1-KO, mGluR5-KO) are mouse lines

MEASUREMENT_UNITS = {
    "baseline_mV": "mV, mean of the baseline window before the pulse",
    "noise_mV": "mV, standard deviation in the baseline window",
    "slope_mV_per_ms": "mV/ms, fEPSP initial slope by linear regression over the slope window",
    "amplitude_mV": "mV, fEPSP peak minus baseline",
    "peak_latency_ms": "ms, peak time after the pulse onset",
    "flags": "bit field: 1 no response, 2 saturated, 4 window outside the sweep, 8 population spike in the "
             "slope window, 16 non-finite samples, 32 no fiber volley",
}
PPR_COLUMN = ("paired_pulse_ratio", "paired test pulses: response 2 / response 1 (slope) of a valid paired test "
              "sweep, on its first pulse's row (NaN for the other rows; stimulation.paired_interval_ms)")
PERCENT_COLUMN = ("slope_percent_of_baseline", "%, the result's time course: slope of a valid test sweep's first "
                  "pulse as % of its pathway's baseline mean (NaN for the other rows; see docs/analysis.md)")


def _rig(rec: Recording) -> dict:
    try:
        return tomllib.loads(str(rec.attrs.get("rig_text", "")))
    except tomllib.TOMLDecodeError:
        return {}


def _subject(meta: dict, species: str):
    from pynwb.file import Subject

    sex = meta.get("sex") or "U"
    if species == SPECIES and meta.get("species"):  # the protocol's metadata unless --species overrides it
        species = meta["species"]
    kw = {"subject_id": meta.get("animal_id") or "unknown", "species": species, "sex": sex if sex in "FMUO" else "U",
          "genotype": meta.get("genotype") or "unknown"}
    if meta.get("age_days") is not None:
        kw["age"] = f"P{int(meta['age_days'])}D"
    else:
        kw["age"] = "P0D/"  # unknown: the ISO 8601 open interval nwbinspector accepts
    desc = {k: v for k, v in meta.items() if k in ("slice_id", "drug", "concentration_uM", "notes") and v}
    kw["description"] = f"acute hippocampal slice donor; genotype {kw['genotype']}" + (
        f"; {json.dumps(desc)}" if desc else "")
    return Subject(**kw)


def _start_time(rec: Recording) -> datetime:
    t = float(rec.attrs.get("start_wall_time", 0.0))
    return datetime.fromtimestamp(t, tz=UTC).astimezone()


def build_nwbfile(rec: Recording, species: str = SPECIES, electrical: bool = False):
    """An in-memory ``pynwb.NWBFile`` holding the whole recording.

    ``electrical``: sweeps as ``ElectricalSeries`` linked to the electrodes table (neo 0.14 cannot read
    those: it rejects the ``electrodes`` region as an annotation); default: ``TimeSeries``, with the
    link to the recording electrodes kept in the ``sweeps`` table's ``electrodes`` column.
    """
    from hdmf.common import DynamicTable
    from pynwb import NWBFile, TimeSeries
    from pynwb.ecephys import ElectricalSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.event import EventsTable

    meta = rec.metadata
    rig = _rig(rec)
    fs = rec.sample_rate_hz
    name = str(rec.attrs.get("plan_name", "experiment"))
    proto = str(rec.attrs.get("protocol_text", ""))
    desc = next((ln.split("=", 1)[1].strip().strip('"') for ln in proto.splitlines()
                 if ln.strip().startswith("description")), "") or name
    nwb = NWBFile(
        session_description=f"{name}: {desc}",
        identifier=str(uuid.uuid5(uuid.NAMESPACE_URL, f"ltp-rig:{rec.path.name}:{rec.attrs.get('start_wall_time')}")),
        session_start_time=_start_time(rec),
        experimenter=[meta["experimenter"]] if meta.get("experimenter") else None,
        experiment_description=desc,
        session_id=meta.get("slice_id") or None,
        institution=None,
        notes=f"exported by rig export from {rec.path.name} (LTP Rig format {rec.format_version}); "
              f"seed {rec.attrs.get('seed')}; complete={rec.complete}",
        source_script=json.dumps({"protocol_text": proto, "rig_text": str(rec.attrs.get("rig_text", ""))}),
        source_script_file_name=str(rec.attrs.get("protocol_path", "")),
        pharmacology=(f"{meta['drug']} {meta.get('concentration_uM') or ''} µM".strip() if meta.get("drug") else None),
        subject=_subject(meta, species),
    )
    backend = str(rig.get("backend", "unknown"))
    dev = nwb.create_device(
        name="daq",
        description=(f"acquisition and stimulation board, backend {backend!r}, device "
                     f"{rig.get('device', '')!r}, {fs:.0f} Hz shared sample clock"
                     + (" (simulated slice, drivers.sim)" if backend == "sim" else "")),
        model=nwb.create_device_model(
            name="daq_model", manufacturer="National Instruments" if backend == "nidaq" else "LTP Rig",
            description="NI-DAQ multifunction board" if backend == "nidaq" else "simulated slice (drivers.sim)"),
    )
    nwb.add_electrode_column("role", "recording or stimulating electrode")
    nwb.add_electrode_column("channel", "DAQ channel (AI for recording, AO command for stimulating)")
    nwb.add_electrode_column("scaling", "amplifier gain (V/V) or isolator scaling (µA/V)")
    ais = rig.get("ai", [{"name": "field", "channel": "ai0", "gain": 1000.0, "range_V": 10.0}])
    n_ai = rec.n_ai
    for k, a in enumerate(ais[:n_ai]):
        g = nwb.create_electrode_group(
            name=f"recording_{a.get('name', k)}", device=dev, location=LOCATION,
            description=f"extracellular field electrode in CA1 stratum radiatum on {a.get('channel')}, "
                        f"amplifier gain {a.get('gain')}, ADC range ±{a.get('range_V')} V")
        nwb.add_electrode(group=g, location=LOCATION, role="recording",
                          channel=str(a.get("channel", "")), scaling=float(a.get("gain", 1.0)))
    for s in rig.get("stim", []):
        g = nwb.create_electrode_group(
            name=f"stimulating_{s['pathway']}", device=dev, location=LOCATION,
            description=f"stimulating electrode on the Schaffer collaterals (CA1 stratum radiatum), pathway "
                        f"{s['pathway']}, via a constant-current isolator "
                        f"({s.get('uA_per_V')} µA/V) on {s.get('ao')}")
        nwb.add_electrode(group=g, location=LOCATION, role="stimulating",
                          channel=str(s.get("ao", "")), scaling=float(s.get("uA_per_V", 1.0)))
    rec_rows = list(range(min(len(ais), n_ai)))
    region = nwb.create_electrode_table_region(rec_rows, "recording electrodes")

    st = rec.sweep_table
    phases = {p["index"]: p for p in rec.phases}
    series = []
    for i in range(rec.n_sweeps):
        r = st[i]
        data = np.stack([rec.sweep_mV(i, c) for c in range(n_ai)], axis=1).astype(np.float32)
        kw = dict(
            name=f"sweep_{i:05d}", data=data if n_ai > 1 else data[:, 0],
            starting_time=float(r["start_sample"] / fs), rate=float(fs), conversion=1e-3,
            description=(f"sweep {i}: field potential (mV) of the recording electrode(s) "
                         f"{', '.join(str(a.get('channel')) for a in ais[:n_ai])}; {r['kind'].decode()} on pathway "
                         f"S{int(r['pathway']) + 1}, {int(r['n_pulses'])} pulse(s) of "
                         f"{float(r['intensity_uA']):g} µA, first at {float(r['stim_sample'] / fs):.4f} s"),
            comments=json.dumps({"block": name, "segment": f"sweep {i:05d}"}),
        )
        es = (ElectricalSeries(electrodes=region, **kw) if electrical
              else TimeSeries(unit="volts", **kw))
        nwb.add_acquisition(es)
        series.append(es)

    width_us = {int(p): float(w) for p, w in zip(st["pathway"], st["width_samples"] / fs * 1e6, strict=False)}
    for pw in sorted(set(int(p) for p in np.asarray(rec.attrs.get("pathways", [0])))):
        t, amp = [], []
        for i in np.flatnonzero(st["pathway"] == pw):
            p = rec.pulse_samples(int(i))
            t.extend((p / fs).tolist())
            amp.extend([float(st["intensity_uA"][i])] * len(p))
        if not t:
            continue
        order = np.argsort(t, kind="stable")
        nwb.add_stimulus(TimeSeries(
            name=f"stimulus_S{pw + 1}", data=np.asarray(amp)[order], unit="amperes", conversion=1e-6,
            timestamps=np.asarray(t)[order],
            description=(f"constant-current pulses on pathway S{pw + 1}: intensity (µA) at each pulse onset; "
                         f"pulse width {width_us.get(pw, 0):.0f} µs"),
            comments=json.dumps({"block": name, "segment": "stimulus"}),
        ))

    sw = TimeIntervals(name="sweeps", description="one row per recorded sweep (LTP Rig /sweeps)")
    sw.add_column("electrodes", "recording electrodes of this sweep", table=nwb.electrodes, index=True)
    for col, d in (("sweep_index", "sweep number"), ("pathway", "stimulated pathway (0 = S1)"),
                   ("phase", "phase name"), ("kind", "test or induction sweep"),
                   ("stim_time", "first pulse onset, s"), ("n_pulses", "pulses in the sweep"),
                   ("intensity_uA", "pulse intensity, µA"), ("width_us", "pulse width, µs")):
        sw.add_column(col, d)
    for i, es in enumerate(series):
        r = st[i]
        t0 = float(r["start_sample"] / fs)
        sw.add_interval(start_time=t0, stop_time=t0 + float(r["n_samples"] / fs), timeseries=[es], electrodes=rec_rows,
                        sweep_index=i, pathway=int(r["pathway"]),
                        phase=phases.get(int(r["phase"]), {}).get("name", str(int(r["phase"]))),
                        kind=r["kind"].decode(), stim_time=float(r["stim_sample"] / fs),
                        n_pulses=int(r["n_pulses"]), intensity_uA=float(r["intensity_uA"]),
                        width_us=float(r["width_samples"] / fs * 1e6))
    nwb.add_time_intervals(sw)

    end_s = max(rec.duration_s, float(st["start_sample"][-1] + st["n_samples"][-1]) / fs if len(st) else 0.0)
    ph = rec.phases
    if ph:
        nwb.add_epoch_column("kind", "phase kind: baseline, induction, follow_up, …")
    for k, p in enumerate(ph):
        stop = ph[k + 1]["start_sample"] / fs if k + 1 < len(ph) else end_s
        start = p["start_sample"] / fs
        if stop > start:
            nwb.add_epoch(start_time=start, stop_time=stop, tags=[p["name"]], kind=p["kind"])

    m = rec.measurements
    if len(m):
        cols = {"sweep_index": "sweep number", "pulse": "pulse number within the sweep",
                "pathway": "stimulated pathway (0 = S1)", "time_s": "pulse onset, s from the session start"}
        a = rec.analysis_info
        tab = DynamicTable(name="measurements", description=f"fEPSP measurements of analysis version {rec.analysis} "
                           f"({a['source']}, slope method {a['method']}), one row per pulse "
                           f"(analysis windows, ms from the pulse: {json.dumps(a['windows'] or rec.windows)})")
        for c, d in cols.items():
            tab.add_column(c, d)
        fields = [n for n in m.dtype.names if n in MEASUREMENT_UNITS]
        for n in fields:
            tab.add_column(n, MEASUREMENT_UNITS[n])
        tab.add_column(*PERCENT_COLUMN)
        tab.add_column(*PPR_COLUMN)
        ppr = {i: v for d in ppr_course(rec, slope_field_of(rec)).values()
               for i, v in zip(d["sweep"], d["ppr"], strict=True)}
        res = results.compute(rec, results.Settings(field=slope_field_of(rec)))
        pct = {int(i): float(v) for r in res.pathways.values()
               for i, v in zip(r.sweep, r.percent, strict=True)}
        pulses = [rec.pulse_samples(i) for i in range(rec.n_sweeps)]
        for row in m:
            p = pulses[int(row["sweep_index"])]
            k = int(row["pulse"])
            onset = float(p[k] / fs) if k < len(p) else float(row["sample"] / fs)
            pc = pct.get(int(row["sweep_index"]), math.nan) if k == 0 else math.nan
            tab.add_row(sweep_index=int(row["sweep_index"]), pulse=k, pathway=int(row["pathway"]), time_s=onset,
                        **{n: (int(row[n]) if n == "flags" else float(row[n])) for n in fields},
                        **{PERCENT_COLUMN[0]: pc,
                           PPR_COLUMN[0]: ppr.get(int(row["sweep_index"]), math.nan) if k == 0 else math.nan})
        mod = nwb.create_processing_module("ecephys", "online fEPSP measurements made during the recording")
        mod.add(tab)

    ev = rec.events
    if ev:
        et = EventsTable(name="rig_events", description="events recorded by LTP Rig: phases, induction, valves, "
                         "gaps, late writes, outputs zeroed", source_description="LTP Rig engine and controller")
        et.add_column("kind", "event kind")
        for e in ev:
            et.add_event(timestamp=float(e["time_s"]), annotation=e["text"] or e["kind"], kind=e["kind"])
        nwb.add_events_table(et)
    return nwb


def export_nwb(rec: Recording, out: Path, species: str = SPECIES, electrical: bool = False) -> dict:
    """Write ``out`` (must not exist); returns counts of what was written."""
    from pynwb import NWBHDF5IO

    nwb = build_nwbfile(rec, species, electrical)
    with NWBHDF5IO(str(out), "w") as io:
        io.write(nwb)
    return {"output": str(out), "sweeps": rec.n_sweeps, "measurements": int(len(rec.measurements)),
            "analysis": rec.analysis, "events": len(rec.events), "phases": len(rec.phases)}
