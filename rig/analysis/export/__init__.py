"""Exports of a recording: NWB 2 (pynwb) and CSV. Outputs are written atomically (temp + rename)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rig.core.errors import UserError


def check_output(out: Path, force: bool, sources: tuple[Path, ...] = ()) -> None:
    """Refuse bad output paths (UserError → exit 2): missing directory, a directory, an input, an existing file."""
    if out.is_dir():
        raise UserError(f"{out}: is a directory; give a file name")
    if not out.parent.is_dir():
        raise UserError(f"{out}: directory {out.parent} does not exist")
    if any(out.resolve() == s.resolve() for s in sources):
        raise UserError(f"{out}: is the input file; choose another name")
    if out.exists() and not force:
        raise UserError(f"{out}: exists; use --force to overwrite")


def write_atomically(out: Path, write: Callable[[Path], object]) -> object:
    """Call ``write(tmp)`` on a temporary name next to ``out``, then rename it to ``out``."""
    tmp = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        res = write(tmp)
        os.replace(tmp, out)
        return res
    finally:
        tmp.unlink(missing_ok=True)
