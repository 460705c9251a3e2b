"""Regressions of the one result (% of baseline): every caller gives the number ``rig summary`` gives.

Before ``rig.analysis.results`` the headline result was computed in five places with different
flag masks, baseline sweeps and windows; these tests drive the real producers (a simulated run
through ``rig.bench.validate_sim`` / ``rig.experiment.runner``) and compare what the user is shown.
"""

from __future__ import annotations

import dataclasses
import math

import rig.storage.reader as reader
from rig.analysis.summary import summarize
from rig.bench.validate_sim import CONDITIONS, run_slice


def _capture_summaries(monkeypatch) -> list[dict]:
    """Make every recording validate-sim opens also report its ``rig summary`` document."""
    seen: list[dict] = []
    real = reader.open_recording

    class _Spy:
        def __init__(self, path):
            self.cm = real(path)

        def __enter__(self):
            rec = self.cm.__enter__()
            seen.append(summarize(rec))
            return rec

        def __exit__(self, *exc):
            return self.cm.__exit__(*exc)

    monkeypatch.setattr(reader, "open_recording", _Spy)
    return seen


def test_validate_sim_and_summary_give_the_same_percent(tmp_path, monkeypatch):
    # a noisy slice (400 µV RMS): some test sweeps carry NO_RESPONSE, a warning flag that the old
    # validate-sim mask (flags == 0) dropped and rig summary kept (173.8 % against 133.6 %)
    c = dataclasses.replace(CONDITIONS[7], baseline_min=6.0, at_min=15.0, overrides={"noise_uV": 400.0})
    seen = _capture_summaries(monkeypatch)
    measured = run_slice(c, 31, str(tmp_path))
    assert len(seen) == 1
    shown = seen[0]["per_pathway"]["0"]["ltp_percent"]
    assert shown is not None and math.isfinite(measured[0])
    assert measured[0] == shown, (measured[0], shown)
