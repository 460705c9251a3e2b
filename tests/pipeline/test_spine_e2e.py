"""End to end through the real command line: the Spine's contracts (issue 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rig.cli import main
from rig.storage import open_recording
from tests.conftest import PROTOCOLS, write_short_tbs


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tbs_seed1(tmp_path_factory) -> dict:
    """The full 81-minute TBS protocol, seed 1, at maximum speed."""
    out = tmp_path_factory.mktemp("tbs") / "tbs.h5"
    code = main(["run", str(PROTOCOLS / "tbs_ltp.toml"), "--sim", "--speed", "max", "--seed", "1",
                 "--out", str(out), "--no-gui"])
    assert code == 0
    return {"path": out}


def summary_json(capsys, path: Path) -> dict:
    capsys.readouterr()
    code, out, err = run_cli(capsys, "summary", str(path), "--json")
    assert code == 0, err
    return json.loads(out)


def test_tbs_protocol_potentiates(tbs_seed1, capsys):
    s = summary_json(capsys, tbs_seed1["path"])
    assert 130 <= s["ltp_percent"] <= 200
    assert s["sweeps"] == 60 + 3 + 180  # 20 min + 60 min at 1 per 20 s, and 3 train sweeps
    assert s["sample_rate_hz"] == 20000.0
    assert s["pathways"] == [0]
    assert s["gaps"] == 0
    assert s["baseline_slope_mV_per_ms"] < 0  # an fEPSP slope is negative
    assert [i["kind"] for i in s["inductions"]] == ["tbs"]
    assert s["inductions"][0]["pulses"] == 120
    assert 80 * 60 <= s["duration_s"] <= 82 * 60
    assert {e["kind"] for e in s["events"]} >= {"phase", "induction", "outputs_zeroed"}


def test_baseline_only_is_stable(tmp_path, capsys):
    out = tmp_path / "base.h5"
    code, _, err = run_cli(capsys, "run", str(PROTOCOLS / "baseline_only.toml"), "--sim", "--speed", "max",
                           "--seed", "1", "--out", str(out), "--no-gui")
    assert code == 0, err
    s = summary_json(capsys, out)
    assert 90 <= s["ltp_percent"] <= 110
    assert s["inductions"] == []


def test_same_seed_identical_summary_different_seed_differs(tmp_path, capsys):
    proto = write_short_tbs(tmp_path)
    sums = []
    for k, seed in enumerate((5, 5, 6)):
        out = tmp_path / f"r{k}.h5"
        assert main(["run", str(proto), "--speed", "max", "--seed", str(seed), "--out", str(out), "--no-gui"]) == 0
        s = summary_json(capsys, out)
        sums.append({k: v for k, v in s.items() if k not in ("file", "events")})
        sums[-1]["event_kinds"] = [(e["kind"], e["time_s"]) for e in s["events"]]
    assert sums[0] == sums[1]
    assert sums[0]["ltp_percent"] != sums[2]["ltp_percent"]


def test_artifact_starts_at_scheduled_sample_in_every_sweep(tbs_seed1):
    """Every pulse of every stored sweep: the artifact's first sample is the scheduled one."""
    with open_recording(tbs_seed1["path"]) as rec:
        assert rec.n_sweeps > 200
        for i in range(rec.n_sweeps):
            row = rec.sweep_table[i]
            x = rec.sweep_mV(i)
            rel = rec.pulse_samples(i) - row["start_sample"]
            assert rel[0] == row["stim_sample"] - row["start_sample"]
            jump = x[rel] - x[rel - 1]
            before = np.abs(x[rel - 1] - x[rel - 2])
            assert np.all(jump > 1.0), f"sweep {i}: artifact not at the scheduled sample"
            assert np.all(before < 0.5), f"sweep {i}: signal moved before the scheduled sample"


def test_sweep_table_matches_the_plan(tbs_seed1):
    with open_recording(tbs_seed1["path"]) as rec:
        t = rec.sweep_table
        test = t[t["kind"] == b"test"]
        # one test pulse every 20 s, exactly 400 000 samples apart within a phase
        d = np.diff(test["stim_sample"][test["phase"] == 0])
        assert set(d.tolist()) == {400_000}
        trains = t[t["kind"] == b"train"]
        assert len(trains) == 3
        assert np.diff(trains["stim_sample"]).tolist() == [200_000, 200_000]  # 10 s apart
        for i in np.flatnonzero(t["kind"] == b"train"):
            p = rec.pulse_samples(i) - t[i]["stim_sample"]
            assert len(p) == 40
            assert p[:4].tolist() == [0, 200, 400, 600]  # 100 Hz
            assert p[4] == 4000  # bursts 200 ms apart


def test_summary_json_contract(tbs_seed1, capsys):
    s = summary_json(capsys, tbs_seed1["path"])
    for key, typ in [("sweeps", int), ("duration_s", float), ("sample_rate_hz", float), ("pathways", list),
                     ("baseline_slope_mV_per_ms", float), ("ltp_percent", float), ("inductions", list),
                     ("events", list), ("gaps", int)]:
        assert isinstance(s[key], typ), key
    for e in s["events"]:
        assert set(e) == {"time_s", "kind", "text"}
    for i in s["inductions"]:
        assert set(i) == {"kind", "time_s", "pulses", "pulses_planned", "pulses_delivered", "status",
                          "first_sample", "last_sample"}
        assert i["pulses_planned"] == i["pulses_delivered"] == 120 and i["status"] == "delivered"


def test_text_summary_names_the_result(tbs_seed1, capsys):
    code, out, _ = run_cli(capsys, "summary", str(tbs_seed1["path"]))
    assert code == 0
    assert "% of baseline" in out and "RESULT" in out


def test_run_prints_where_the_file_is_and_the_result(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code, so, se = run_cli(capsys, "run", str(write_short_tbs(tmp_path)), "--speed", "max", "--out", str(out),
                           "--no-gui")
    assert code == 0
    assert str(out) in se
    assert "RESULT" in so


def test_second_run_never_overwrites(tmp_path, capsys):
    proto = write_short_tbs(tmp_path, base_min=0.5, follow_min=0.5)
    out = tmp_path / "same.h5"
    assert main(["run", str(proto), "--speed", "max", "--out", str(out), "--no-gui"]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    code, so, se = run_cli(capsys, "run", str(proto), "--speed", "max", "--out", str(out), "--no-gui")
    assert code == 2 and "never overwritten" in se and so == ""
    assert out.read_bytes() == before
