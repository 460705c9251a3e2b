"""The window's time course is the result's (rig.analysis.results), point for point, on a real run."""

from __future__ import annotations

import numpy as np

from rig.analysis import results
from rig.analysis.summary import summarize
from rig.display.model import DisplayModel
from rig.display.viewer import RecordingSource
from rig.storage import open_recording
from tests.storage_helpers import record


def test_the_window_shows_the_time_course_rig_summary_reports(tmp_path):
    rec_path = record(tmp_path)  # two pathways, TBS, through rig.experiment.runner
    # the window normalised every test/paired point, flagged or not, to "the latest baseline phase
    # with points"; now it is the result's time course, point for point
    with open_recording(rec_path) as rec:
        res = results.compute(rec)
        s = summarize(rec)
        m = DisplayModel()
        RecordingSource(rec, m).refresh()
    for pw in (0, 1):
        t, y, pct = m.time_course_xy(pw)
        assert pct
        np.testing.assert_array_equal(y, res.pathways[pw].percent)
        np.testing.assert_array_equal(t, res.pathways[pw].t_min)
        assert m.baseline_mean(pw) == s["per_pathway"][str(pw)]["baseline_slope_mV_per_ms"]
