"""Fast subset of the simulator calibration, through device → engine → detector → HDF5."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rig import cli
from rig.bench.validate_sim import CONDITIONS, Condition, run_slice, summarise


def _named(name: str) -> Condition:
    return next(c for c in CONDITIONS if c.name == name)


def _short(c: Condition, **kw) -> Condition:
    return dataclasses.replace(c, baseline_min=6.0, **kw)


def test_tbs_potentiates_through_the_pipeline(tmp_path):
    c = _short(_named("TBS 3 trains"), at_min=15.0)  # TBS 3 trains
    vals = [run_slice(c, s, str(tmp_path))[0] for s in (11, 12)]
    assert all(v > 125.0 for v in vals), vals


def test_dhpg_ltd_needs_mglur5_through_the_pipeline(tmp_path):
    wt = _short(_named("DHPG 100 µM 5 min, Fmr1-KO"), at_min=25.0)  # Fmr1-KO, DHPG 100 µM
    ko = _short(_named("DHPG 100 µM, mGluR5-KO"), at_min=25.0)  # mGluR5-KO
    v_wt = [run_slice(wt, s, str(tmp_path))[0] for s in (21, 22)]
    v_ko = [run_slice(ko, s, str(tmp_path))[0] for s in (21, 22)]
    assert max(v_wt) < 92.0, v_wt
    assert all(94.0 <= v <= 106.0 for v in v_ko), v_ko
    rows = summarise([wt, ko], {wt.name: [[v] for v in v_wt], ko.name: [[v] for v in v_ko]})
    assert [r["n"] for r in rows] == [2, 2]
    assert set(rows[0]) >= {"condition", "target", "measured_mean", "measured_sem", "n", "pass"}


def test_cli_rejects_bad_arguments(capsys):
    assert cli.main(["validate-sim", "--slices", "1"]) == 2
    assert cli.main(["validate-sim", "--only", "no such condition"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err


@pytest.mark.slow
def test_cli_json_for_one_condition(capsys, monkeypatch):
    import rig.bench.validate_sim as vs

    short = tuple(dataclasses.replace(c, baseline_min=4.0, at_min=14.0) if "no induction" in c.name
                  else c for c in vs.CONDITIONS)
    monkeypatch.setattr(vs, "CONDITIONS", short)
    rc = cli.main(["validate-sim", "--json", "--only", "no induction", "--slices", "2",
                   "--processes", "1"])
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["n"] == 2
    assert set(rows[0]) == {"condition", "kind", "target", "measured_mean", "measured_sem", "n", "pass"}
    assert rows[0]["kind"] == "calibration"
    assert rc == (0 if rows[0]["pass"] else 1)


def test_prediction_row_against_its_paired_vehicle(tmp_path):
    """A seed row (mGluR5-KO + HFS) against its vehicle on the same two slices, short follow-up."""
    wt = _short(_named("HFS 1 × 100 Hz 1 s, WT"), at_min=20.0)
    ko = _short(_named("HFS 1 × 100 Hz 1 s, mGluR5-KO"), at_min=20.0)
    seeds = (41, 42)
    res = {wt.name: [run_slice(wt, s, str(tmp_path)) for s in seeds],
           ko.name: [run_slice(ko, s, str(tmp_path)) for s in seeds]}
    rows = {r["condition"]: r for r in summarise([wt, ko], res)}
    assert rows[ko.name]["kind"] == "prediction" and rows[ko.name]["vehicle"] == wt.name
    assert rows[ko.name]["ratio_to_vehicle"] < 0.9, rows
    assert rows[ko.name]["pass"] and rows[wt.name]["pass"], rows
