"""The document stream of a real simulated run (pause, resume, mark, intensity change, induction,
alarm) replayed through the display model and the storage writer: what the user sees, and what
the file holds."""

from __future__ import annotations

import pytest

from rig.core import events as ev
from rig.core.documents import RunStart, RunStop
from rig.display.model import DisplayModel
from rig.display.status import status_text
from rig.storage import RecordingWriter, open_recording
from tests.event_run import record_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return record_run(tmp_path_factory.mktemp("replay"))


def test_display_model_shows_pause_resume_intensity_and_markers(run):
    m = DisplayModel()
    states = []
    for d in run.docs:
        m.apply(d)
        if isinstance(d, (ev.Paused, ev.Resumed)):
            states.append((type(d).__name__, status_text(m, None, None).state))
    assert states == [("Paused", "PAUSED"), ("Resumed", "RECORDING")]
    assert m.intensity_uA[0] == 110.0
    st = status_text(m, None, None)
    assert "S1 110 µA" in st.intensity and st.alarm.startswith("noise")
    labels = [e.label for e in m.marker_events()]
    assert "drug on" in labels
    assert any(e.kind == "induction" for e in m.marker_events())
    assert m.reply_refused and "not in a baseline phase" in m.reply
    assert st.state == "STOPPED (completed)"


def test_writer_replay_holds_the_same_events_as_the_run(run, tmp_path):
    start = next(d for d in run.docs if isinstance(d, RunStart))
    w = RecordingWriter(tmp_path / "replay.h5", len(start.ai_channels), {})
    for d in run.docs:
        w(d)
    assert any(isinstance(d, RunStop) for d in run.docs)
    w.close()
    want = [ev.to_stored(d) for d in run.docs if isinstance(d, ev.Event)]
    with open_recording(tmp_path / "replay.h5") as replayed, open_recording(run.path) as original:
        for rec in (replayed, original):
            got = [ev.to_stored(e) for e in rec.typed_events]
            assert got == want
        kinds = [type(e) for e in replayed.typed_events]
        assert {ev.Paused, ev.Resumed, ev.IntensitySet, ev.Induction, ev.Alarm} <= set(kinds)
        mark = next(e for e in replayed.typed_events if isinstance(e, ev.Operator) and e.cmd == "mark")
        assert mark.note == "drug on" and mark.accepted
