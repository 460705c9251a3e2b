"""Analysis versions of a recording (format ≥ 1.3; docs/file-format.md, "Analysis versions").

Version 0 is the online analysis with the windows of the root attribute ``windows``; every later
version is an ``analysis`` event (a window change during the run, the window's Re-analyse,
``rig analyze --save``) whose rows of ``/measurements`` carry its number in ``analysis``. A
version's rows are written before its event, so rows of a number without an event (a save or a run
killed half-way) are ignored. Files of format < 1.3 hold version 0 only.

The measurements *of version v*: per sweep, the rows of the newest version ≤ v that measured it
(an online version measures the sweeps recorded after it, and re-measures the earlier ones it
kept; an offline version measures every sweep).
"""

from __future__ import annotations

import json

import numpy as np

from rig.core.errors import UserError

ANALYSIS_KIND = "analysis"


def versions(attrs: dict, events: list[dict]) -> list[dict]:
    """Every analysis version: number, source, method, windows (ms), time_s, remeasured, first_sweep."""
    try:
        w0 = json.loads(attrs.get("windows", "{}"))
    except ValueError:
        w0 = {}
    out = [{"version": 0, "source": "online", "method": "regression", "windows": w0, "time_s": 0.0,
            "remeasured": 0, "first_sweep": 0, "text": "online measurements (windows at the start)"}]
    for e in events:
        if e["kind"] != ANALYSIS_KIND:
            continue
        d = e["data"]
        v = d.get("version")
        if isinstance(v, int) and not isinstance(v, bool) and v > out[-1]["version"]:
            out.append({"version": v, "source": str(d.get("source", "")), "method": str(d.get("method", "regression")),
                        "windows": d.get("windows") or {}, "time_s": e["time_s"],
                        "remeasured": d.get("remeasured"), "first_sweep": d.get("first_sweep"), "text": e["text"]})
    return out


def check_version(path: object, known: list[dict], asked: int | None) -> int:
    """The version to use: ``asked`` (refused with one line if the file has none such) or the newest."""
    newest = known[-1]["version"]
    if asked is None:
        return newest
    if asked not in {k["version"] for k in known}:
        raise UserError(f"{path}: --analysis {asked}: no such analysis version (the file has "
                        f"{', '.join(str(k['version']) for k in known)})")
    return int(asked)


def rows_of(table: np.ndarray, known: list[dict], version: int) -> np.ndarray:
    """The measurement rows of ``version`` (see module docstring), in sweep then pulse order."""
    if "analysis" not in (table.dtype.names or ()):
        return table  # format < 1.3: one version
    ok = [k["version"] for k in known if k["version"] <= version]
    sel = table[np.isin(table["analysis"], ok)]
    if not len(sel):
        return sel
    best = np.full(int(sel["sweep_index"].max()) + 1, -1, dtype=np.int64)
    np.maximum.at(best, sel["sweep_index"], sel["analysis"])
    sel = sel[sel["analysis"] == best[sel["sweep_index"]]]
    return sel[np.lexsort((sel["pulse"], sel["sweep_index"]))]
