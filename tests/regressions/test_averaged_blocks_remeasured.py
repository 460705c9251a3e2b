"""Issue 15: with the averaged measurement on (``[analysis] average = N``, ``rig run --average N``) a
change of the windows during the run (``set_windows``) opened a new analysis version that re-measured
the single sweeps but not the averaged blocks: the averaged rows of the newest version mixed blocks
measured with the old windows and blocks measured with the new ones. Now the version re-measures the
averaged blocks of the pathway whose windows changed, and readers (``averaged_rows_of``) take, per
block, the newest version's row: every averaged row of a version is measured with its windows.

Check used: the regression slope is linear in the samples, so the slope of a block's average equals
the mean of its sweeps' slopes measured with the same windows (to rounding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rig.core.commands import Command
from rig.detector import measure
from rig.detector.measurement import PathwayWindows
from rig.storage import open_recording
from tests.conftest import baseline_toml, tbs_toml
from tests.window_run import record

# the operator's window change alone (auto windows off: they would add a version before it)
AVERAGE = "[analysis]\naverage = 3\nauto_windows = false\n\n"
NEW_SLOPE = [3.4, 4.2]  # ms: the slope window set during the run (default 3.0–4.5)
FOLLOW = """
[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 2.0
interval_s = 5.0
"""


def _set_slope(at_s: float, pathway: int | None) -> tuple[float, Command]:
    return at_s, Command("set_windows", pathway=pathway, source="test",
                         data={"window": "slope", "old_ms": [3.0, 4.5], "new_ms": NEW_SLOPE})


@pytest.fixture(scope="module")
def one(tmp_path_factory) -> Path:
    text = tbs_toml(base_min=2.0, follow_min=2.0, interval_s=5.0).replace("[stimulation]", AVERAGE + "[stimulation]")
    return record(tmp_path_factory.mktemp("one"), text, "one", [_set_slope(150.0, None)]).path


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> Path:
    text = baseline_toml(2.0, 5.0, name="two", pathways=("S1", "S2")) + FOLLOW
    return record(tmp_path_factory.mktemp("two"), text.replace("[stimulation]", AVERAGE + "[stimulation]"),
                  "two", [_set_slope(150.0, 1)]).path


def _single_slopes(rec) -> dict[int, float]:
    m = rec.measurements[rec.measurements["pulse"] == 0]
    return {int(i): float(s) for i, s in zip(m["sweep_index"], m["slope_mV_per_ms"], strict=True)}


def _block_sweeps(rec, row) -> list[int]:
    st = rec.sweep_table
    return [i for i in range(int(row["first_sweep"]), int(row["sweep_index"]) + 1)
            if st["kind"][i] == b"test" and int(st["pathway"][i]) == int(row["pathway"])]


def _check_consistent(path: Path, version: int | None = None) -> tuple:
    """Every averaged row of ``version`` (newest: None): one per block, its slope the mean of its
    sweeps' slopes of that version. Returns the recording's averaged rows and versions."""
    with open_recording(path, version) as rec:
        avg, single, known = rec.averaged, _single_slopes(rec), rec.analyses
        assert len(avg) and len(np.unique(avg["sweep_index"])) == len(avg), "a block listed twice"
        wrong = []
        for r in avg:
            idx = _block_sweeps(rec, r)
            assert len(idx) == int(r["averaged_n"]) == 3
            mean = float(np.mean([single[i] for i in idx]))
            if not np.isclose(float(r["slope_mV_per_ms"]), mean, rtol=0, atol=2e-6):
                wrong.append((int(r["sweep_index"]), float(r["slope_mV_per_ms"]), mean))
        assert not wrong, f"{len(wrong)} of {len(avg)} averaged rows not measured with the version's windows: {wrong}"
        return avg.copy(), known, rec.all_measurements.copy()


def test_single_pathway_blocks_are_remeasured_with_the_new_windows(one):
    avg, known, allm = _check_consistent(one)
    assert [k["source"] for k in known] == ["online", "set_windows"]
    v = known[-1]
    assert v["windows"]["slope"] == NEW_SLOPE
    before = avg[avg["sweep_index"] < v["first_sweep"]]
    assert len(before) >= 5 and set(before["analysis"]) == {1}  # blocks before the change: re-measured rows
    # the version says so; the original rows stay, and version 0 reads them (consistent with its windows)
    with open_recording(one) as rec:
        e = [x for x in rec.events if x["kind"] == "analysis"][-1]
    assert e["data"]["averaged_remeasured"] == len(before) and "averaged blocks" in e["text"]
    old = allm[(allm["averaged_n"] > 0) & (allm["analysis"] == 0)]
    assert set(before["sweep_index"]) <= set(old["sweep_index"])
    _check_consistent(one, 0)
    # the re-measured block is the detector's measurement of the average of its raw sweeps
    with open_recording(one) as rec:
        r = before[-1]
        idx = _block_sweeps(rec, r)
        trace = np.mean([rec.sweep_mV(i, 0) for i in idx], axis=0)
        st = rec.sweep_table[idx[-1]]
        stim = int(rec.pulse_samples(idx[-1])[0]) - int(st["start_sample"])
        w = PathwayWindows.from_dicts(v["windows"], v["pathway_windows"]).of(0)
        want = measure(trace, stim, rec.sample_rate_hz, w, 32767 * rec.sweep_scale(idx[-1], 0) * 0.999)[0]
    assert float(r["slope_mV_per_ms"]) == pytest.approx(float(want["slope_mV_per_ms"]), abs=1e-6)


def test_two_pathways_only_the_changed_pathways_blocks_are_remeasured(two):
    avg, known, allm = _check_consistent(two)
    v = known[-1]
    assert v["pathway"] == 1 and v["pathway_windows"]["1"]["slope"] == NEW_SLOPE
    ver = v["version"]
    redone = allm[(allm["averaged_n"] > 0) & (allm["analysis"] == ver) & (allm["sweep_index"] < v["first_sweep"])]
    assert len(redone) >= 2 and set(redone["pathway"]) == {1}  # S2's blocks only
    s1 = avg[(avg["pathway"] == 0) & (avg["sweep_index"] < v["first_sweep"])]
    assert len(s1) >= 2 and set(s1["analysis"]) == {0}  # S1 keeps its rows (its windows did not change)


def _table(rows: list[tuple[int, int, int, int, float]]) -> np.ndarray:
    """(sweep_index, pathway, analysis, averaged_n, slope) rows of a /measurements table."""
    dt = np.dtype([("sweep_index", "i8"), ("pulse", "i4"), ("pathway", "i4"), ("analysis", "i4"),
                   ("averaged_n", "i4"), ("first_sweep", "i8"), ("slope_mV_per_ms", "f8")])
    return np.array([(i, 0, pw, v, n, i - 2 if n else 0, s) for i, pw, v, n, s in rows], dtype=dt)


def test_reader_takes_per_block_the_newest_online_versions_row():
    from rig.storage.analyses import averaged_rows_of

    known = [{"version": 0, "first_sweep": 0}, {"version": 1, "first_sweep": 7}, {"version": 2, "first_sweep": -1}]
    # 1.5: block 2 of S1 measured by version 0 and re-measured by version 1; block 8 new in version 1
    t = _table([(2, 0, 0, 3, -0.10), (2, 0, 1, 3, -0.20), (5, 1, 0, 3, -0.30), (8, 0, 1, 3, -0.40),
                (2, 0, 0, 0, -0.11), (2, 0, 2, 3, -0.50)])
    got = averaged_rows_of(t, known, 1)
    assert [(int(r["sweep_index"]), int(r["analysis"]), float(r["slope_mV_per_ms"])) for r in got] == [
        (2, 1, -0.20), (8, 1, -0.40), (5, 0, -0.30)]
    assert [float(r["slope_mV_per_ms"]) for r in averaged_rows_of(t, known, 0)] == [-0.10, -0.30]
    assert [float(r["slope_mV_per_ms"]) for r in averaged_rows_of(t, known, 2)] == [-0.50]  # offline: its own
    # a 1.4 file (one averaged row per block) reads as before: every online version's rows
    t14 = _table([(2, 0, 0, 3, -0.10), (5, 1, 0, 3, -0.30), (8, 0, 1, 3, -0.40)])
    assert len(averaged_rows_of(t14, known[:2], 1)) == 3
