"""The MEA part of a recording's summary: every electrode's result, the LTP map and the fraction
of responding electrodes that potentiated (``rig summary``, ``rig report``, ``rig view``).

Each electrode's rows of ``/mea/measurements`` go through :func:`rig.analysis.results.compute`
exactly as a single-electrode recording's ``/measurements`` (same sweeps, baseline phase, flags,
intensity rule, damaged sweeps, undelivered inductions), then through
:func:`rig.analysis.mea_results.classify` (responding, potentiated).
"""

from __future__ import annotations

import numpy as np

from rig.analysis import results
from rig.analysis.mea_results import DEFAULT_SETTINGS, ElectrodeResult, MapSettings, classify, fraction
from rig.core.mea import MEALayout
from rig.storage import Recording
from rig.storage import mea as mea_store


class _Electrode:
    """One electrode of ``rec`` as a recording (its rows as ``measurements``) for :func:`results.compute`."""

    def __init__(self, rec: Recording) -> None:
        self.sample_rate_hz, self.duration_s = rec.sample_rate_hz, rec.duration_s
        self.sweep_table, self.attrs, self.verify = rec.sweep_table, rec.attrs, rec.verify
        self.phases, self.typed_events = rec.phases, rec.typed_events
        self.measurements = np.zeros(0)


def electrode_results(rec: Recording, pathway: int, settings: MapSettings = DEFAULT_SETTINGS
                      ) -> tuple[MEALayout, list[ElectrodeResult]] | None:
    """(layout, one result per electrode in electrode order) for ``pathway``; None: not an MEA file."""
    data = mea_store.read(rec)
    if data is None:
        return None
    lay = data.layout
    view = _Electrode(rec)
    out = []
    slope_field = settings.field
    m = data.measurements
    for e in sorted(lay.electrodes):
        view.measurements = m[m["electrode"] == e]
        per = {f: results.compute(view, results.Settings(field=f), pathways=[pathway]).pathways[pathway]
               for f in (slope_field, "amplitude_mV", "noise_mV")}
        out.append(classify(e, lay.role(e), per[slope_field], per["amplitude_mV"], per["noise_mV"], settings))
    return lay, out


def mea_summary(rec: Recording, pathway: int, settings: MapSettings = DEFAULT_SETTINGS) -> dict | None:
    """The ``mea`` section of ``rig summary --json`` (None: not an MEA recording)."""
    got = electrode_results(rec, pathway, settings)
    if got is None:
        return None
    lay, res = got
    rows = []
    for r in res:
        row, col = lay.position(r.electrode)
        x, y = lay.xy_um(r.electrode)
        rows.append({**r.to_dict(), "column": lay.column(r.electrode), "row": row, "col": col, "x_um": x, "y_um": y})
    return {"layout": lay.to_dict(), "pathway": pathway, "field": settings.field,
            "measured": "online, every electrode every sweep, with the windows in use at that sweep",
            "electrodes": rows, **fraction(res, settings)}


def ltp_grid(mea: dict) -> np.ndarray:
    """(rows, cols) % of baseline of the responding electrodes (NaN elsewhere) of a ``mea`` summary."""
    lay = MEALayout.from_dict(mea["layout"])
    return lay.grid({r["electrode"]: (r["ltp_percent"] if r["responding"] and r["ltp_percent"] is not None
                                      else np.nan) for r in mea["electrodes"]})


def format_mea(mea: dict) -> list[str]:
    """Lines of the text summary: the layout, the fraction, and the map as a grid of %."""
    lay = mea["layout"]
    stim = ", ".join(str(v) for v in lay["stim_electrodes"].values())
    n_rec = sum(r["role"] != "stimulating" for r in mea["electrodes"])
    lines = [f"MEA           {mea['n_electrodes']} electrodes ({lay['rows']}×{lay['cols']}, {lay['pitch_um']:g} µm), "
             f"stimulating {stim}, field {lay['field_electrode']}",
             f"              responding {mea['responding']} of {n_rec} recording electrodes (baseline slope CV ≤ "
             f"{mea['max_cv']:g}, amplitude ≥ {mea['k_noise']:g} × noise)"]
    if mea["fraction_potentiated"] is not None:
        lines.append(f"              potentiated (> {mea['potentiated_percent']:g} %): {mea['potentiated']} of "
                     f"{mea['responding_with_result']} = {100 * mea['fraction_potentiated']:.0f} %   depressed "
                     f"(< {mea['depressed_percent']:g} %): {mea['depressed']}")
    by = {r["electrode"]: r for r in mea["electrodes"]}
    lines.append(f"LTP map       % of baseline of the {mea['method']} slope, last 10 min (S stimulating, "
                 "· not responding, - no result)")
    for i in range(lay["rows"]):
        cells = []
        for j in range(lay["cols"]):
            r = by.get(i * lay["cols"] + j + 1)
            if r is None:
                cells.append("    ")
            elif r["role"] == "stimulating":
                cells.append("   S")
            elif not r["responding"]:
                cells.append("   ·")
            else:
                cells.append("   -" if r["ltp_percent"] is None else f"{r['ltp_percent']:4.0f}")
        lines.append("              " + " ".join(cells))
    return lines
