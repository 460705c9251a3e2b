"""Issue 15: the engine measured every pathway with ONE window set, so the pathways' proposals were
intersected and a protocol could not give S2 its own windows. Now each pathway has its own windows
(``[analysis.pathways.S2.windows]``, ``rig ctl set-windows … --pathway S2``, the window's drag on S2's
plot, auto windows per pathway), every analysis version says whose windows changed, and each
pathway's baseline starts after its own change."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from rig.analysis import results
from rig.cli import main
from rig.commands.ctl import build_request
from rig.core.errors import UserError
from rig.detector import measure_pulses
from rig.detector.measurement import PathwayWindows, Windows
from rig.storage import open_recording
from tests.conftest import baseline_toml

TWO = """
[[phases]]
kind = "induction"
name = "TBS S1"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = 5
burst_interval_ms = 200.0
trains = 1
train_interval_s = 10.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 1.0
interval_s = 5.0
"""


def _proto(tmp_path, analysis: str, base_min: float = 2.0, name: str = "two.toml"):
    text = baseline_toml(base_min, 5.0, name="two pathways", pathways=("S1", "S2")) + TWO
    p = tmp_path / name
    p.write_text(text.replace("[stimulation]", analysis + "\n[stimulation]"))
    return p


def _run(tmp_path, analysis: str, out: str = "two.h5", extra: tuple = ()) -> object:
    p = _proto(tmp_path, analysis)
    path = tmp_path / out
    assert main(["run", str(p), "--speed", "max", "--seed", "4", "--out", str(path), "--no-gui", *extra]) == 0
    return path


def _remeasure(rec, i: int, w: Windows) -> float:
    r = rec.sweep_table[i]
    trace = rec.sweep_counts(i)[:, 0].astype(np.float64) * rec.sweep_scale(i, 0)
    pulses = np.asarray(rec.pulse_samples(i), dtype=np.int64) - int(r["start_sample"])
    return float(measure_pulses(trace, pulses, rec.sample_rate_hz, w, 32767 * rec.sweep_scale(i, 0) * 0.999)[0][
        "slope_mV_per_ms"])


def test_protocol_gives_s2_its_own_windows_and_each_pathway_is_measured_with_its_own(tmp_path, capsys):
    # the protocol's windows alone (auto windows off: they would replace S1's and S2's unpinned ones)
    path = _run(tmp_path, "[analysis]\nauto_windows = false\n[analysis.pathways.S2.windows]\nslope = [2.6, 3.6]\n")
    capsys.readouterr()
    with open_recording(path) as rec:
        assert rec.format_version == "1.5"
        assert rec.pathway_windows == {"1": {"slope": [2.6, 3.6]}}
        own = PathwayWindows.from_dicts(rec.windows, rec.pathway_windows)
        assert own.of(0).slope == (3.0, 4.5) and own.of(1).slope == (2.6, 3.6)
        m = rec.measurements[rec.measurements["pulse"] == 0]
        for pw in (0, 1):
            i = int(m["sweep_index"][m["pathway"] == pw][3])
            stored = float(m["slope_mV_per_ms"][m["sweep_index"] == i][0])
            assert stored == pytest.approx(_remeasure(rec, i, own.of(pw)), rel=1e-9)
            assert stored != pytest.approx(_remeasure(rec, i, own.of(1 - pw)), rel=1e-3)
    # `rig analyze` re-measures with the windows the file stores for each pathway
    assert main(["analyze", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pathways"]["1"]["windows"]["slope"] == [2.6, 3.6]
    assert doc["pathways"]["0"]["windows"]["slope"] == [3.0, 4.5]


@pytest.mark.parametrize("table, said", [
    ("[analysis.pathways.S3.windows]\nslope = [2.6, 3.6]\n", "'S3' is not a stimulated pathway"),
    ("[analysis.pathways.S2.windows]\nslope = [3.6, 2.6]\n", "pathways.S2.windows: window slope"),
    ("[analysis.pathways.S2.windows]\nslope = [2.6, 300.0]\n", "outside the sweep"),
    ("[analysis.pathways.S2.windows]\nslope = [2.6]\n", "slope"),
    ("[analysis.pathways.S2.windows]\nslpoe = [2.6, 3.6]\n", "slpoe"),
])
def test_bad_pathway_windows_are_one_line_errors(tmp_path, capsys, table, said):
    p = _proto(tmp_path, table)
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err, err


def test_auto_windows_apply_each_pathways_own_proposal_and_baselines_start_after_their_own_change(tmp_path,
                                                                                                    capsys):
    path = _run(tmp_path, "[analysis]\nauto_windows = true\nsettle_sweeps = 5\n")
    capsys.readouterr()
    with open_recording(path) as rec:
        evs = rec.typed_events
        fs = rec.sample_rate_hz
        changed = [e for e in evs if e.kind == "windows"]
        props = {e.pathway: e for e in evs if e.kind == "windows_proposed"}
        versions = [e for e in evs if e.kind == "analysis"]
        res = results.compute(rec)
        m = rec.measurements[rec.measurements["pulse"] == 0]
        ref = res.baseline_phase
    assert sorted(e.pathway for e in changed) == [0, 1] and all(e.source == "auto" for e in changed)
    for e in changed:  # each pathway got its own proposal, not an intersection
        assert e.windows["slope"] == props[e.pathway].windows["slope"]
    assert sorted(v.pathway for v in versions) == [0, 1]
    last = PathwayWindows.from_dicts(versions[-1].windows, versions[-1].pathway_windows)
    for e in changed:
        assert list(last.of(e.pathway).slope) == e.windows["slope"]
    for e in changed:  # a pathway's baseline: its sweeps after its own windows change
        pw = e.pathway
        mine = m[(m["pathway"] == pw) & (m["phase"] == ref)]
        t = mine["sample"] / fs
        r = res.pathways[pw]
        assert r.n_baseline_settling == int(np.sum(t < e.sample / fs)) >= 5
        assert r.n_baseline + r.n_baseline_excluded == int(np.sum(t >= e.sample / fs))


def test_rig_ctl_set_windows_takes_a_pathway():
    ns = argparse.Namespace(action="set-windows", args=["slope", "3.2", "4.4"], pathway="S2", minutes=5.0)
    assert build_request(ns) == {"cmd": "set_windows", "data": {"window": "slope", "new_ms": [3.2, 4.4]},
                                 "pathway": 1}
    ns.pathway = None
    assert "pathway" not in build_request(ns)
    for args, pathway in ((["slope", "4.4", "3.2"], None), (["slop", "3", "4"], None), (["slope", "3"], None),
                          (["slope", "3", "4"], "X2"), (["slope", "nan", "4"], None)):
        with pytest.raises(UserError):
            build_request(argparse.Namespace(action="set-windows", args=args, pathway=pathway, minutes=5.0))


def test_online_averages_are_rows_and_never_double_count(tmp_path, capsys):
    plain = _run(tmp_path, "", "plain.h5")
    avg = _run(tmp_path, "", "avg.h5", ("--average", "3"))
    capsys.readouterr()
    with open_recording(plain) as a, open_recording(avg) as b:
        assert len(a.averaged) == 0
        events = [e for e in b.typed_events if e.kind == "average_measured"]
        rows = b.averaged
        assert len(rows) == len(events) >= 6 and set(rows["averaged_n"]) == {3}
        # each event is a block as measured live: its first row (the auto windows' versions re-measure
        # the blocks of the settling sweeps; the newest rows are those, `b.averaged`)
        allm = b.all_measurements[b.all_measurements["averaged_n"] > 0]
        _, first = np.unique(allm["pathway"].astype(np.int64) * 10**9 + allm["sweep_index"], return_index=True)
        live = allm[first]  # in pathway then sweep order
        assert len(allm) > len(live) and len(live) == len(rows)
        for e, r in zip(sorted(events, key=lambda e: (e.pathway, e.last_sweep)), live, strict=True):
            assert (int(r["pathway"]), int(r["first_sweep"]), int(r["sweep_index"])) == \
                (e.pathway, e.first_sweep, e.last_sweep)
            assert float(r["slope_mV_per_ms"]) == pytest.approx(e.values["slope_mV_per_ms"], abs=1e-6)
        assert len(b.measurements) == len(a.measurements)  # single sweeps only
        ra, rb = results.compute(a), results.compute(b)
    for pw in (0, 1):  # the same result with or without the averaged rows
        assert rb.pathways[pw].magnitude_percent == pytest.approx(ra.pathways[pw].magnitude_percent, rel=1e-12)
        assert rb.pathways[pw].n_baseline == ra.pathways[pw].n_baseline
    assert main(["summary", str(avg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["averages"]["0"]) + len(doc["averages"]["1"]) == len(rows)


def test_versions_of_many_pathways_keep_every_pathways_windows_within_the_event_size():
    """An ``analysis`` event holds 1024 bytes: with ≥ 4 pathways of their own windows only the changed
    pathway's fit, and readers carry the others over from the version before."""
    from rig.core import events as ev
    from rig.detector.versions import AnalysisVersions
    from rig.storage.analyses import versions, windows_by_pathway

    av, w, stored = AnalysisVersions(20_000.0), PathwayWindows(), []
    for pw in range(6):
        changes = [(n, v, "auto", pw) for n, v in (("artifact", (0.0, 0.65 + pw / 100)), ("volley", (0.7, 2.35)),
                                                   ("slope", (3.25 + pw / 10, 4.55)), ("peak", (3.3, 12.15)),
                                                   ("pop_spike", (3.3, 12.15)))]
        w, docs, _ = av.apply(changes, w, 100 * pw, pw)
        for d in docs:
            if isinstance(d, ev.Event):
                sample, kind, text, data = ev.to_stored(d)
                assert len(data.encode()) <= 1024
                stored.append({"kind": kind, "data": json.loads(data), "time_s": 0.0, "text": text})
    known = versions({"windows": json.dumps(Windows().to_dict())}, stored)
    assert [k["pathway"] for k in known] == [None, 0, 1, 2, 3, 4, 5]
    got = windows_by_pathway(known[-1], list(range(7)))
    for pw in range(7):
        assert Windows.from_dict(got[pw]) == w.of(pw), pw


def test_offline_average_save_adds_averaged_rows_to_a_1_3_file_and_recover_keeps_them(tmp_path, capsys):
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "fixtures" / "recording_format_1_3.h5"
    path = tmp_path / "old.h5"
    shutil.copy(src, path)
    assert main(["summary", str(path), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(["analyze", str(path), "--average", "3", "--save", "--json"]) == 0
    capsys.readouterr()
    with open_recording(path) as rec:
        avg, single = rec.averaged, rec.measurements
        assert set(avg["averaged_n"]) == {3} and rec.analysis == 1
        assert len(single) == 70 and (single["analysis"] == 1).all()  # every single sweep, re-measured
        test = rec.sweep_table["kind"] == b"test"
        assert all(test[int(a["first_sweep"]):int(a["sweep_index"]) + 1].all() for a in avg)  # no train inside
    assert main(["summary", str(path), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["ltp_percent"] == pytest.approx(before["ltp_percent"], rel=1e-9)  # never double counted
    assert len(after["averages"]["0"]) == len(avg) == 10
    clean = tmp_path / "clean.h5"
    assert main(["recover", str(path), "--out", str(clean)]) == 0
    capsys.readouterr()
    with open_recording(clean) as rec:
        assert len(rec.averaged) == 10 and rec.averaged["first_sweep"].tolist() == avg["first_sweep"].tolist()


def test_analyze_json_reports_landmarks_windows_confidence_and_flag_counts_per_pathway(tmp_path, capsys):
    """`rig analyze FILE --pathways 2 --json` with no window argument, on a two-pathway ABF1 file."""
    import pyabf.abfWriter

    from tests.regressions.test_window_placement_bugs import TWO

    path = tmp_path / "two.abf"
    pyabf.abfWriter.writeABF1(np.stack([TWO[i % 2].with_(seed=i).trace() for i in range(40)]), str(path),
                              TWO[0].fs_hz, units="mV")
    assert main(["analyze", str(path), "--pathways", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for pw in ("0", "1"):
        p = doc["pathways"][pw]
        assert p["windows_source"] == "placed from landmarks" and p["sweeps_averaged"] == 10
        assert {"volley", "rebound", "t20", "t60", "trough"} <= set(p["landmarks_ms"]) or pw == "0"
        assert 0.0 <= p["confidence"]["slope"] <= 1.0 and p["reasons"]["slope"]
        assert p["windows"]["slope"][0] > p["landmarks_ms"]["artifact_end"]
        assert p["flagged"] == 0 and isinstance(p["flag_counts"], dict)
        assert sum(p["flag_counts"].values()) >= 0 and p["sweeps"] == 20
    assert doc["pathways"]["1"]["windows"]["slope"][0] > doc["pathways"]["1"]["landmarks_ms"]["rebound"]


def test_summary_averaged_asks_for_the_result_from_the_averaged_rows(tmp_path, capsys):
    # auto windows off: on a 2-min baseline their 10 settling sweeps leave no complete block to average
    avg = _run(tmp_path, "[analysis]\nauto_windows = false\n", "avg.h5", ("--average", "3"))
    capsys.readouterr()
    assert main(["summary", str(avg), "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert main(["summary", str(avg), "--json", "--averaged"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert single["measured_from"] == "single sweeps" and doc["measured_from"] == "averaged measurements"
    for pw in ("0", "1"):  # one point per block of 3 sweeps: a third of the sweeps
        a, s = doc["per_pathway"][pw], single["per_pathway"][pw]
        assert a["test_sweeps"] * 3 <= s["test_sweeps"] < (a["test_sweeps"] + 3) * 3
        assert a["ltp_percent"] == pytest.approx(s["ltp_percent"], rel=0.05)
    plain = _run(tmp_path, "", "plain.h5")
    capsys.readouterr()
    assert main(["summary", str(plain), "--averaged"]) == 2
    assert "no averaged measurements" in capsys.readouterr().err
