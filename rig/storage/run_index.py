"""The run index of a multi-site run: one small JSON file that ties the site recordings together.

Every site of a multi-slice run is recorded in its own, self-contained HDF5 file (a slice's
recording like any other). The index (``<name>.sites.json``, beside them) says which files
belong to one run, on which board, with which start offsets, and how each site ended. It is
written (atomically: a temporary file renamed over it) when the run starts — every site
``running`` — and again when it ends. Layout: docs/multi-site.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rig.core.errors import UserError

INDEX_FORMAT = "ltp-rig-run-index"
INDEX_VERSION = 1
SUFFIX = ".sites.json"
SITE_KEYS = {"name", "file", "protocol_path", "offset_samples", "offset_s", "ai", "stim", "pathways",
             "seed_offset", "status", "message"}


def write_index(path: Path, data: dict) -> None:
    """Write ``data`` (with format and version) to ``path`` atomically."""
    doc = {"format": INDEX_FORMAT, "version": INDEX_VERSION, **data}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def is_index(path: Path) -> bool:
    """True when ``path`` looks like a run index (name or content), so ``rig summary`` can tell."""
    if path.name.endswith(SUFFIX):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and INDEX_FORMAT.encode() in head


def read_index(path: Path) -> dict:
    """The index at ``path``, validated; site files resolved relative to it (``path`` key)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the run index ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UserError(f"{path}: not a run index (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT:
        raise UserError(f"{path}: format: not a run index (expected \"{INDEX_FORMAT}\")")
    if doc.get("version") != INDEX_VERSION:
        raise UserError(f"{path}: version: {doc.get('version')!r}; this build reads run index version {INDEX_VERSION}")
    sites = doc.get("sites")
    if not isinstance(sites, list) or not sites:
        raise UserError(f"{path}: sites: must be a non-empty list")
    for k, s in enumerate(sites):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not isinstance(s.get("file"), str):
            raise UserError(f"{path}: sites[{k}]: needs \"name\" and \"file\" (strings)")
        f = Path(s["file"])
        if f.is_absolute() or ".." in f.parts:
            raise UserError(f"{path}: sites[{k}].file: {s['file']!r} must be a file name beside the index")
    return doc


def site_path(index_path: Path, site: dict) -> Path:
    """The recording of ``site`` (an entry of ``read_index``)."""
    return index_path.parent / site["file"]
