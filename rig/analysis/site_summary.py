"""`rig summary INDEX`: every site of a multi-site run with its result (from its own file)."""

from __future__ import annotations

from pathlib import Path

from rig.analysis.summary import format_summary, summarize
from rig.core.errors import UserError
from rig.storage import open_recording
from rig.storage.run_index import read_index, site_path


def summarize_index(path: Path) -> dict:
    """The `rig summary --json INDEX` document: the run and, per site, its status in the index
    and the summary of its recording (``summary`` is None and ``error`` says why when the file
    cannot be read)."""
    doc = read_index(path)
    sites = []
    for s in doc["sites"]:
        entry = {k: s.get(k) for k in ("name", "file", "protocol_path", "offset_s", "status", "message")}
        try:
            with open_recording(site_path(path, s)) as rec:
                entry["summary"] = summarize(rec)
            entry["error"] = None
        except UserError as exc:
            entry["summary"], entry["error"] = None, str(exc)
        sites.append(entry)
    return {"index": str(path), "format_version": doc["version"], "backend": doc.get("backend"),
            "sample_rate_hz": doc.get("sample_rate_hz"), "seed": doc.get("seed"),
            "site_guard_s": doc.get("site_guard_s"), "closest_approach_s": doc.get("closest_approach_s"),
            "sites": sites}


def format_index_summary(s: dict) -> str:
    lines = [f"run index     {s['index']}   {len(s['sites'])} sites, guard {s['site_guard_s']:g} s "
             f"(closest {s['closest_approach_s'] if s['closest_approach_s'] is not None else '—'} s)"]
    for site in s["sites"]:
        lines.append("")
        lines.append(f"== site {site['name']}  ({site['status']}{': ' + site['message'] if site['message'] else ''}), "
                     f"starts at +{site['offset_s']:g} s")
        lines.append(format_summary(site["summary"]) if site["summary"] else f"   unreadable: {site['error']}")
    return "\n".join(lines)
