"""Issue 15, online: the engine proposed windows from the first baseline sweeps (``windows_proposed``)
but never applied them, so every online result was measured in the fixed default windows. Now a
confident proposal is applied through the set-windows path before the baseline counts, the
result's baseline uses only sweeps after it, and an uncertain one is a warning event."""

from __future__ import annotations

import json

import numpy as np

from rig.analysis import results
from rig.cli import main
from rig.closed_loop.auto_windows import proposed_changes
from rig.detector.measurement import PathwayWindows, Windows
from rig.detector.online import AUTO
from rig.detector.versions import AnalysisVersions
from rig.storage import open_recording
from tests.conftest import baseline_toml, write_short_tbs

AUTO_ON = "[analysis]\nauto_windows = true\n"  # auto windows are opt-in (docs/analysis.md)


def _run(tmp_path, analysis: str = AUTO_ON, base_min: float = 3.0, name: str = "a.h5"):
    p = write_short_tbs(tmp_path, base_min=base_min, follow_min=0.5)
    if analysis:
        p.write_text(p.read_text().replace("[stimulation]", analysis + "\n[stimulation]"))
    out = tmp_path / name
    assert main(["run", str(p), "--speed", "max", "--seed", "3", "--out", str(out), "--no-gui"]) == 0
    return out


def test_windows_proposed_never_applied(tmp_path, capsys):
    out = _run(tmp_path)
    capsys.readouterr()
    with open_recording(out) as rec:
        evs = rec.typed_events
        prop = [e for e in evs if e.kind == "windows_proposed"]
        changed = [e for e in evs if e.kind == "windows"]
        attrs_w = rec.attrs["windows"]
        res = results.compute(rec)
        fs = rec.sample_rate_hz
        m = rec.measurements
        base_phase = res.baseline_phase
    assert len(prop) == 1 and prop[0].landmarks_ms["slope_sd_percent"] <= 15.0
    assert len(changed) == 1 and changed[0].source == "auto"  # one change: one analysis version
    assert changed[0].windows["slope"] == prop[0].windows["slope"]
    assert changed[0].windows["slope"] != list(Windows().slope)
    assert attrs_w is not None
    # the sweeps before the change (those the proposal was placed on) never enter the baseline
    pr = res.pathways[0]
    t_change = changed[0].sample / fs
    in_phase = (m["phase"] == base_phase) & (m["pulse"] == 0)
    after = in_phase & (m["sample"] / fs >= t_change)
    assert pr.n_baseline_settling == int(np.sum(in_phase & ~after)) >= 5
    assert pr.n_baseline + pr.n_baseline_excluded == int(np.sum(after))
    assert np.isclose(pr.baseline_mean, float(np.mean(m["slope_mV_per_ms"][after])))
    # sweeps after the change are measured in the new slope window
    d = json.loads(json.dumps(pr.to_dict()))
    assert d["baseline_settling_sweeps"] == pr.n_baseline_settling


def test_uncertain_proposal_is_a_warning_and_windows_stay(tmp_path, capsys):
    # a 2 µA test intensity gives no measurable fEPSP on the simulated slice: no confident window
    p = tmp_path / "weak.toml"
    p.write_text(baseline_toml(2.5, 10.0, intensity_uA=2.0).replace("[stimulation]", AUTO_ON + "[stimulation]"))
    out = tmp_path / "u.h5"
    assert main(["run", str(p), "--speed", "max", "--seed", "3", "--out", str(out), "--no-gui"]) == 0
    capsys.readouterr()
    with open_recording(out) as rec:
        kinds = [e.kind for e in rec.typed_events]
        warn = [e for e in rec.typed_events if e.kind == "windows_uncertain"]
    assert "windows_proposed" in kinds
    assert warn and "stay" in warn[0].text
    assert "windows" not in kinds


def test_auto_windows_keep_a_window_given_in_the_protocol(tmp_path, capsys):
    out = _run(tmp_path, AUTO_ON + "windows = { slope = [2.9, 3.9] }\n")
    capsys.readouterr()
    with open_recording(out) as rec:
        changed = [e for e in rec.typed_events if e.kind == "windows"]
    assert changed and changed[0].windows["slope"] == [2.9, 3.9]


def test_pathway_proposals_each_apply_their_own_windows_not_an_intersection():
    """Issue 15: the engine measured every pathway with one window set, so proposals were intersected
    (two slope windows 2.0–2.6 and 2.5–3.4 ms had no common 0.4 ms: neither was applied). Now each
    pathway has its own windows: each proposal is one version of that pathway alone."""
    def prop(slope):
        return Windows().replace(artifact=(0.0, 0.6), volley=(0.6, 1.8), slope=slope, peak=(slope[0], 12.0),
                                 pop_spike=(slope[0], 12.0))

    changes = [(n, v, AUTO, pw) for pw, w in ((0, prop((2.0, 2.6))), (1, prop((2.5, 3.4))))
               for n, v in proposed_changes(w, Windows()).items()]
    w, docs, _ = AnalysisVersions(20_000.0).apply(changes, Windows(), 0, 0)
    assert w.of(0).slope == (2.0, 2.6) and w.of(1).slope == (2.5, 3.4) and w.of(2).slope == Windows().slope
    changed = [d for d in docs if d.kind == "windows"]
    assert [(d.source, d.pathway) for d in changed] == [("auto", 0), ("auto", 1)]
    assert changed[0].windows["slope"] == [2.0, 2.6] and "S1 windows from landmarks" in changed[0].text
    versions = [d for d in docs if d.kind == "analysis"]
    assert [(v.version, v.pathway) for v in versions] == [(1, 0), (2, 1)]
    assert versions[1].pathway_windows["1"]["slope"] == [2.5, 3.4]
    assert PathwayWindows.from_dicts(versions[1].windows, versions[1].pathway_windows) == w
