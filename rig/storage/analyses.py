"""Analysis versions of a recording (format ≥ 1.3; docs/file-format.md, "Analysis versions").

Version 0 is the online analysis with the windows of the root attribute ``windows``; every later
version is an ``analysis`` event (a window change during the run, the window's Re-analyse,
``rig analyze --save``) whose rows of ``/measurements`` carry its number in ``analysis``. A
version's rows are written before its event, so rows of a number without an event (a save or a run
killed half-way) are ignored. Files of format < 1.3 hold version 0 only. Format 1.4 adds per-pathway
windows (``pathway_windows``) and averaged measurements (rows with ``averaged_n`` > 0, :func:`averaged_rows_of`), which
:func:`rows_of` leaves out: every result reads single sweeps. Format 1.5: an online version that
changes a pathway's windows re-measures its averaged blocks too (a block then has one row per
version that measured it; :func:`averaged_rows_of` takes the newest).

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
    w0, p0 = (_json_attr(attrs, k) for k in ("windows", "pathway_windows"))
    out = [{"version": 0, "source": "online", "method": "regression", "windows": w0, "time_s": 0.0,
            "remeasured": 0, "first_sweep": 0, "text": "online measurements (windows at the start)",
            "pathway": None, "pathway_windows": p0}]
    for e in events:
        if e["kind"] != ANALYSIS_KIND:
            continue
        d = e["data"]
        v = d.get("version")
        if isinstance(v, int) and not isinstance(v, bool) and v > out[-1]["version"]:
            own = d.get("pathway_windows") or {}
            if d.get("pathway_windows_incomplete"):  # only the changed pathway's fitted: the rest as before
                own = {**out[-1]["pathway_windows"], **own}
            out.append({"version": v, "source": str(d.get("source", "")), "method": str(d.get("method", "regression")),
                        "windows": d.get("windows") or {}, "time_s": e["time_s"],
                        "remeasured": d.get("remeasured"), "first_sweep": d.get("first_sweep"), "text": e["text"],
                        "pathway": d.get("pathway"), "pathway_windows": own})
    return out


def _json_attr(attrs: dict, key: str) -> dict:
    try:
        v = json.loads(attrs.get(key, "{}"))
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def windows_by_pathway(info: dict, pathways: list[int]) -> dict[int, dict]:
    """Per pathway: the windows (``Windows.to_dict()``) a version measured it with (its default
    ``windows`` with the pathway's own entries of ``pathway_windows``, format ≥ 1.4)."""
    base = info.get("windows") or {}
    own = info.get("pathway_windows") or {}
    return {pw: {**base, **(own.get(str(pw)) or {})} for pw in pathways}


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
    if "averaged_n" in (table.dtype.names or ()):
        table = table[table["averaged_n"] == 0]  # 1.4: single sweeps only (averaged rows: averaged_rows_of)
    if "analysis" not in (table.dtype.names or ()):
        return table  # format < 1.3: one version
    ok = [k["version"] for k in known if k["version"] <= version]
    sel = table[np.isin(table["analysis"], ok)]
    sel = _newest_per_sweep(sel)
    return sel[np.lexsort((sel["pulse"], sel["sweep_index"]))]


def _newest_per_sweep(sel: np.ndarray) -> np.ndarray:
    """The rows of the newest ``analysis`` version of each ``sweep_index`` among ``sel``."""
    if not len(sel):
        return sel
    best = np.full(int(sel["sweep_index"].max()) + 1, -1, dtype=np.int64)
    np.maximum.at(best, sel["sweep_index"], sel["analysis"])
    return sel[sel["analysis"] == best[sel["sweep_index"]]]


def averaged_rows_of(table: np.ndarray, known: list[dict], version: int) -> np.ndarray:
    """The averaged measurements of ``version`` (format ≥ 1.4; none before), in pathway then sweep
    order: an offline version's own (``rig analyze --average N --save``); an online version's: per
    block (its last sweep), the row of the newest online version up to it that measured it — the
    block's own version, or a later one that re-measured it with that version's windows (format
    1.5; a block never spans two window sets). 1.4 files hold one row per block: read the same."""
    if "averaged_n" not in (table.dtype.names or ()):
        return table[:0]
    avg = table[table["averaged_n"] > 0]
    info = next((k for k in known if k["version"] == version), known[-1])
    if info.get("first_sweep") == -1:  # offline: measured from the file with one window set per pathway
        sel = avg[avg["analysis"] == version]
    else:
        online = [k["version"] for k in known if k["version"] <= version and k.get("first_sweep") != -1]
        sel = _newest_per_sweep(avg[np.isin(avg["analysis"], online)])
    return sel[np.lexsort((sel["pulse"], sel["sweep_index"], sel["pathway"]))]
