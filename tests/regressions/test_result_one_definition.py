"""Regressions of the one result (% of baseline): every caller gives the number ``rig summary`` gives.

Before ``rig.analysis.results`` the headline result was computed in five places with different
flag masks, baseline sweeps and windows; these tests drive the real producers (a simulated run
through ``rig.bench.validate_sim`` / ``rig.experiment.runner``) and compare what the user is shown.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import rig.storage.reader as reader
from rig.analysis import results
from rig.analysis.export.csv import rows as csv_rows
from rig.analysis.export.nwb import build_nwbfile
from rig.analysis.report.collect import load_experiment
from rig.analysis.summary import summarize
from rig.bench.validate_sim import CONDITIONS, percent_of_baseline, run_slice
from rig.closed_loop.gate import check_stability
from rig.display.model import DisplayModel
from rig.display.viewer import RecordingSource
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import write_short_tbs


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
    import drivers.sim.slice as sim_slice

    real = sim_slice.make_slice
    monkeypatch.setattr(sim_slice, "make_slice", lambda *a, **kw: real(*a, noise_uV=400.0, **kw))
    tbs3 = next(k for k in CONDITIONS if k.name == "TBS 3 trains")
    c = dataclasses.replace(tbs3, baseline_min=6.0, at_min=15.0)
    seen = _capture_summaries(monkeypatch)
    measured = run_slice(c, 31, str(tmp_path))
    assert len(seen) == 1
    shown = seen[0]["per_pathway"]["0"]["ltp_percent"]
    assert shown is not None and math.isfinite(measured[0])
    assert measured[0] == shown, (measured[0], shown)


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("result")  # TBS, 3 min baseline, 11 min follow-up, through the runner
    out = d / "tbs.h5"
    run_experiment(RunOptions(protocol=write_short_tbs(d, 3.0, 11.0, 10.0), out=out, seed=5, speed=None))
    return out


def _callers(rec_path, tmp_path):
    """Every place the user sees a % of baseline, each driven on the same recording."""
    def summary():
        with open_recording(rec_path) as rec:
            return summarize(rec)["ltp_percent"]

    def window():
        with open_recording(rec_path) as rec:
            m = DisplayModel()
            RecordingSource(rec, m).refresh()
            return m.time_course_xy(0)[1]

    def csv():
        with open_recording(rec_path) as rec:
            return [r["slope_percent_of_baseline"] for r in csv_rows(rec)]

    def nwb():
        with open_recording(rec_path) as rec:
            return build_nwbfile(rec)

    def validate_sim():
        with open_recording(rec_path) as rec:
            return percent_of_baseline(rec, 1)

    def report():
        return load_experiment(rec_path, traces=False).magnitude_pct

    def gate():
        t = np.arange(60) * 20.0
        return check_stability(t, np.full(60, -0.2), float(t[-1]))

    return {"summary": summary, "window": window, "csv": csv, "nwb": nwb, "validate-sim": validate_sim,
            "report": report, "gate": gate}


def test_every_caller_takes_the_percent_from_rig_analysis_results(rec_path, tmp_path, monkeypatch):
    callers = _callers(rec_path, tmp_path)
    for f in callers.values():
        f()  # works with the real module
    class Called(Exception):
        pass

    def boom(*a, **k):
        raise Called

    monkeypatch.setattr(results, "pathway_result", boom)
    monkeypatch.setattr(results, "percent_of", boom)
    for name, f in callers.items():
        with pytest.raises(Called):
            f()
            pytest.fail(f"{name} computed a % of baseline without rig.analysis.results")

