"""Multi-site runs (issue 19): several slices on one simulated board, each with its own plan,
engine, controller and file, through the real CLI (`rig run … --sim --speed max`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from tests.conftest import baseline_toml, tbs_toml
from tests.sites_helpers import same_recording, write_sites_rig

RIG = [sys.executable, "-m", "rig.cli"]


def rig_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RIG, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_site_run(tmp_path_factory):
    """Site A: a short TBS; site B (two pathways): baseline only; seed 11."""
    d = tmp_path_factory.mktemp("sites")
    rig = write_sites_rig(d, 2)
    (d / "tbs.toml").write_text(tbs_toml(base_min=0.5, follow_min=0.5, interval_s=5.0))
    (d / "base.toml").write_text(baseline_toml(0.75, 5.0, pathways=("S1", "S2")))
    out = d / "run.sites.json"
    p = rig_cli("run", "--rig", str(rig), "--site", "A=tbs.toml", "--site", "B=base.toml", "--sim",
                "--speed", "max", "--seed", "11", "--no-gui", "--json", "--out", str(out), cwd=d)
    assert p.returncode == 0, p.stderr
    return d, out, json.loads(p.stdout)


def test_every_site_gets_its_own_complete_file_and_the_index_ties_them(two_site_run):
    d, out, summary = two_site_run
    index = json.loads(out.read_text())
    assert index["format"] == "ltp-rig-run-index" and index["version"] == 1
    assert [s["name"] for s in index["sites"]] == ["A", "B"]
    assert [s["status"] for s in index["sites"]] == ["completed", "completed"]
    assert index["sites"][0]["offset_samples"] == 0 < index["sites"][1]["offset_samples"]
    assert index["closest_approach_s"] >= index["site_guard_s"]
    # rig summary --json INDEX: every site with its result
    p = rig_cli("summary", "--json", str(out), cwd=d)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert [x["name"] for x in s["sites"]] == ["A", "B"]
    assert [x["summary"]["ltp_percent"] for x in s["sites"]] == [x["summary"]["ltp_percent"] for x in summary["sites"]]
    a, b = (x["summary"] for x in s["sites"])
    assert a["complete"] and b["complete"] and a["inductions"] and not b["inductions"]
    assert a["ltp_percent"] is not None and len(b["pathways"]) == 2
    # a site's file is a slice's recording: rig summary works on it as on any
    p = rig_cli("summary", "--json", str(d / index["sites"][1]["file"]), cwd=d)
    assert p.returncode == 0 and json.loads(p.stdout)["sweeps"] == b["sweeps"]


def test_each_site_equals_a_single_slice_run_of_the_same_seed(two_site_run):
    """The site file's own rig_text is the single-slice rig of that site: the same protocol and seed
    on it alone gives exactly the same samples, sweeps, measurements and events."""
    d, out, _ = two_site_run
    index = json.loads(out.read_text())
    for site, proto in zip(index["sites"], ("tbs.toml", "base.toml"), strict=True):
        f = d / site["file"]
        with h5py.File(f, "r") as h:
            assert h.attrs["site"] == site["name"] and h.attrs["run_index"] == out.name
            (d / f"rig_{site['name']}.toml").write_text(h.attrs["rig_text"])
        single = d / f"single_{site['name']}.h5"
        p = rig_cli("run", proto, "--rig", f"rig_{site['name']}.toml", "--sim", "--speed", "max", "--seed", "11",
                    "--no-gui", "--out", str(single), cwd=d)
        assert p.returncode == 0, p.stderr
        assert same_recording(f, single) == [], site["name"]


def test_a_site_stopped_by_its_alarm_leaves_the_others_recording(tmp_path):
    rig = write_sites_rig(tmp_path, 3)
    (tmp_path / "base.toml").write_text(baseline_toml(0.5, 5.0))
    (tmp_path / "base2.toml").write_text(baseline_toml(0.5, 5.0, pathways=("S1", "S2")))
    # baseline noise is ~25 µV RMS: a 1 µV limit with action "stop" fires at the first sweep
    (tmp_path / "alarm.toml").write_text(baseline_toml(0.5, 5.0) + '\n[alarms]\nnoise_max_uV = 1.0\n'
                                         'noise_action = "stop"\n')
    out = tmp_path / "a.sites.json"
    p = rig_cli("run", "base.toml", "--rig", str(rig), "--site", "A=alarm.toml", "--site", "B=base2.toml", "--sim",
                "--speed", "max", "--no-gui", "--json", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 1, p.stderr  # one site did not complete
    s = json.loads(p.stdout)
    status = {x["name"]: (x["status"], x["summary"]) for x in s["sites"]}
    assert status["A"][0] != "completed" and status["A"][1]["alarms"]
    for name in ("B", "C"):
        assert status[name][0] == "completed" and status[name][1]["complete"]
        assert status[name][1]["sweeps"] > status["A"][1]["sweeps"]
    with h5py.File(tmp_path / "a_A.h5", "r") as h:
        kinds = [k.decode() for k in h["events"]["kind"]]
    assert kinds[-1] == "outputs_zeroed" or "outputs_zeroed" in kinds


def test_guard_violations_are_refused_at_check(tmp_path):
    rig = write_sites_rig(tmp_path, 2, guard_s=1.0)
    # LFS at 1 Hz for 15 min leaves no 1 s gap for another site's test pulses
    lfs = Path(__file__).resolve().parents[2] / "protocols" / "lfs_ltd.toml"
    (tmp_path / "base.toml").write_text(baseline_toml(100.0, 20.0, pathways=("S1", "S2")))
    p = rig_cli("check", "--rig", str(rig), "--site", f"A={lfs}", "--site", "B=base.toml", cwd=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "site_guard_s" in lines[0] and str(rig) in lines[0] and "'B'" in lines[0]
    assert "Traceback" not in p.stderr
    # protocols whose stimuli can interleave pass; --json says where each site starts
    (tmp_path / "base1.toml").write_text(baseline_toml(100.0, 20.0))
    ok = rig_cli("check", "--rig", str(rig), "--site", "A=base1.toml", "--site", "B=base.toml", "--json",
                 cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["valid"] and [s["site"] for s in doc["sites"]] == ["A", "B"]
    assert doc["closest_approach_s"] >= 1.0 and doc["sites"][1]["offset_s"] > 0


@pytest.mark.parametrize("bad, said", [
    ('stim = ["X1"]', "stim 'X1' is not a [[stim]] pathway"),
    ('stim = ["A1"]', "already belongs to site 'A'"),
])
def test_bad_site_entries_are_one_line_errors(tmp_path, bad, said):
    rig = write_sites_rig(tmp_path, 2)
    text = rig.read_text().replace('stim = ["B1", "B2"]', bad)
    rig.write_text(text)
    (tmp_path / "base.toml").write_text(baseline_toml(1.0, 5.0))
    p = rig_cli("check", "base.toml", "--rig", str(rig), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert said in p.stderr and str(rig) in p.stderr


def test_a_site_without_protocol_is_refused(tmp_path):
    rig = write_sites_rig(tmp_path, 2)
    (tmp_path / "base.toml").write_text(baseline_toml(1.0, 5.0))
    p = rig_cli("run", "--rig", str(rig), "--site", "A=base.toml", "--sim", "--no-gui", cwd=tmp_path)
    assert p.returncode == 2 and "no protocol for site B" in p.stderr
    p = rig_cli("run", "--rig", str(rig), "--site", "Z=base.toml", "--sim", "--no-gui", cwd=tmp_path)
    assert p.returncode == 2 and "'Z' is not a [[site]]" in p.stderr


def test_the_shipped_four_slice_rig_checks_as_documented():
    root = Path(__file__).resolve().parents[2]
    p = rig_cli("check", "--rig", "rigs/four_slices.toml", "--site", "A=protocols/two_pathway_tbs.toml",
                "--site", "B=protocols/two_pathway_tbs.toml", "--site", "C=protocols/two_pathway_tbs.toml",
                "--site", "D=protocols/baseline_only.toml", "--json", cwd=root)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [s["site"] for s in doc["sites"]] == ["A", "B", "C", "D"] and doc["closest_approach_s"] >= 1.0
    assert len({s["offset_samples"] for s in doc["sites"]}) == 4


def test_bench_sites_reports_its_figures_beside_one_slice():
    from rig.bench.sites import bench_sites

    res = bench_sites(2, 0.25)
    assert res["sites"] == 2 and res["sites_completed"] == 2 and res["sites_lost_samples"] == 0
    assert res["sites_sweeps"] > 0
    for k in ("sites_realtime_factor", "sites_single_realtime_factor", "sites_throughput_vs_single"):
        assert res[k] > 0


def test_rig_ctl_site_steers_one_site(tmp_path):
    import time

    rig = write_sites_rig(tmp_path, 2)
    (tmp_path / "a.toml").write_text(baseline_toml(0.5, 2.0))
    (tmp_path / "b.toml").write_text(baseline_toml(0.5, 2.0, pathways=("S1", "S2")))
    out = tmp_path / "c.sites.json"
    run = subprocess.Popen([*RIG, "run", "--rig", str(rig), "--site", "A=a.toml", "--site", "B=b.toml", "--sim",
                            "--speed", "5", "--no-gui", "--out", str(out)], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = tmp_path / "c_A.h5.ctl.json"
        deadline = time.monotonic() + 120
        while not endpoint.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert endpoint.exists(), run.stderr.read() if run.poll() is not None else "no endpoint"
        p = rig_cli("ctl", "mark", "site A only", "--site", "A", "--index", str(out), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        bad = rig_cli("ctl", "mark", "x", "--site", "Z", "--index", str(out), cwd=tmp_path)
        assert bad.returncode == 2 and "'Z' is not a site" in bad.stderr
    finally:
        stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    texts = {}
    for name in "AB":
        with h5py.File(tmp_path / f"c_{name}.h5", "r") as h:
            texts[name] = [t.decode() for t in h["events"]["text"]]
    assert any("site A only" in t for t in texts["A"]) and not any("site A only" in t for t in texts["B"])
