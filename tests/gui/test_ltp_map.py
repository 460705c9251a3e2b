"""The LTP map panel (MEA mode), offscreen: the colour of every electrode from the documents a run
streams, updated every sweep, and docked in the live window of an MEA run."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rig import detector  # noqa: E402
from rig.core.documents import PhaseStart, RunStart, RunStop  # noqa: E402
from rig.core.mea import MEALayout, MEAMeasured  # noqa: E402
from rig.display.ltp_map import LtpMapFeed, LtpMapPanel, image_of  # noqa: E402
from rig.display.ltp_map_model import GREY  # noqa: E402
from tests.conftest import baseline_toml  # noqa: E402

FS = 20000.0
# a 4 × 4 array: electrode 6 stimulates, 7 is the field electrode; 2, 3, 7, 10, 11 respond
LAYOUT = MEALayout(4, 4, 200.0, (7, *[e for e in range(1, 17) if e != 7]), 7, {0: 6})
RESPONDING = {2: -0.15, 3: -0.10, 7: -0.25, 10: -0.20, 11: -0.12}


def _records(rng: np.random.Generator, gain: float) -> np.ndarray:
    rec = np.zeros((LAYOUT.n, 1), dtype=detector.MEASUREMENT_DTYPE)
    for k, e in enumerate(LAYOUT.electrodes):
        size = RESPONDING.get(e, 0.0) * gain
        rec[k, 0]["slope_max_mV_per_ms"] = size * (1 + 0.08 * rng.standard_normal()) + 0.005 * rng.standard_normal()
        rec[k, 0]["amplitude_mV"] = 2 * size - 0.02 + 0.005 * rng.standard_normal()
        rec[k, 0]["noise_mV"] = 0.012
    return rec


def _docs(gain_after: float = 1.6) -> list[object]:
    """A short run as the engine streams it: baseline, a TBS train, follow-up at ``gain_after``."""
    rng = np.random.default_rng(3)
    docs: list[object] = [RunStart(FS, (), (), (0,), "map test", 0, 0.0), PhaseStart(0, "baseline", "baseline", 0)]
    t, i = 0, 0
    for _ in range(30):
        docs.append(MEAMeasured(i, 0, 0, t, "test", _records(rng, 1.0)))
        t, i = t + int(20 * FS), i + 1
    docs += [PhaseStart(1, "TBS", "induction", t), MEAMeasured(i, 0, 1, t, "train", _records(rng, 1.0))]
    t, i = t + int(30 * FS), i + 1
    docs.append(PhaseStart(2, "follow-up", "follow_up", t))
    for _ in range(40):
        docs.append(MEAMeasured(i, 0, 2, t, "test", _records(rng, gain_after)))
        t, i = t + int(20 * FS), i + 1
    return docs


def _pixel(panel: LtpMapPanel, e: int) -> np.ndarray:
    r, c = LAYOUT.position(e)
    return image_of(panel)[r, c].astype(float) / 255.0


def test_the_map_colours_responding_electrodes_by_their_percent_of_baseline(qtbot, tmp_path):
    feed = LtpMapFeed()
    panel = LtpMapPanel(LAYOUT, feed, refresh_hz=1000)
    qtbot.addWidget(panel)
    panel.resize(420, 480)
    panel.show()
    docs = _docs()
    for d in docs[:32]:  # the baseline only: every responding electrode at ≈ 100 %, near white
        feed(d)
    panel.tick()
    assert np.allclose(_pixel(panel, 7)[:3], 1.0, atol=0.25)
    assert "5 of 15 electrodes respond" in panel.status.text()
    for d in docs[32:]:
        feed(d)
    frames = panel.frames
    panel.tick()
    assert panel.frames == frames + 1
    for e in RESPONDING:  # potentiated: red (R well above B)
        px = _pixel(panel, e)
        assert px[0] > 0.8 and px[2] < 0.75, (e, px)
        assert 140 <= float(panel.labels[e].textItem.toPlainText()) <= 180
    for e in (1, 4, 16):  # noise only: grey, no number
        assert np.allclose(_pixel(panel, e), GREY, atol=0.01) and panel.labels[e].textItem.toPlainText() == ""
    assert np.allclose(_pixel(panel, 6), GREY, atol=0.01) and panel.labels[6].textItem.toPlainText() == "S"
    assert "potentiated (> 120 %) 5 = 100 %" in panel.status.text()
    feed(RunStop(0, "completed"))
    panel.tick()
    c = panel.model.counts()
    assert panel.model.ended and c["potentiated"] == 5 and c["responding"] == 5
    assert "result (last 10 min)" in panel.status.text()
    assert panel.grab().save(str(tmp_path / "map.png"))


def test_a_depressed_slice_turns_blue_and_the_feed_never_blocks(qtbot):
    feed = LtpMapFeed(max_items=len(_docs()) - 5)
    for d in _docs(gain_after=0.6):
        feed(d)
    assert feed.dropped == 5  # full: dropped, counted, never blocking the engine
    feed2 = LtpMapFeed()
    for d in _docs(gain_after=0.6):
        feed2(d)
    feed2("not a document the map needs")
    panel = LtpMapPanel(LAYOUT, feed2, refresh_hz=1000)
    qtbot.addWidget(panel)
    panel.tick()
    px = _pixel(panel, 7)
    assert px[2] > px[0] + 0.3  # blue
    c = panel.model.counts()
    assert (c["depressed"], c["potentiated"]) == (5, 0)


@pytest.mark.slow
def test_the_live_window_of_an_mea_run_docks_the_map_and_updates_it(tmp_path):
    from rig.experiment.runner import RunOptions
    from rig.experiment.windowed import run_with_window

    proto = tmp_path / "p.toml"
    proto.write_text(baseline_toml(0.5, 5.0, name="MEA window", intensity_uA=150.0))
    seen = {}
    opts = RunOptions(protocol=proto, rig=os.path.abspath("rigs/mea64.toml"), out=tmp_path / "r.h5", seed=1,
                      speed=None, control=False)
    res, err, sig = run_with_window(opts, on_window=lambda w: seen.setdefault("win", w))
    assert err is None and res is not None and res.stop.reason == "completed"
    panel = seen["win"].ltp_map
    assert panel.model.ended and panel.model.series[0].n == 6 and panel.frames >= 1
    assert panel.model.counts()["responding"] >= 3  # electrodes near the stimulating one respond
    from rig.experiment.windowed import open_viewer  # rig view: the same map from the file

    viewer = open_viewer(tmp_path / "r.h5", offscreen=True)
    try:
        assert viewer.ltp_map.model.counts() == panel.model.counts()
        assert np.array_equal(image_of(viewer.ltp_map), image_of(panel))
    finally:
        viewer.force_close()
