"""`--sim-fault` and `--panel` on a multi-site run (issue 19), through the real CLI: a fault named
with its site hits that site only, the others go on; TTL-only isolators get their front-panel
settings per rig-file pathway; the terminal status line names every site's state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py

from tests.conftest import baseline_toml
from tests.sites_helpers import events_of, sites_rig_toml

RIG = [sys.executable, "-m", "rig.cli"]
NOISE_STOPS = baseline_toml(0.75, 5.0) + '\n[alarms]\nnoise_max_uV = 100.0\nnoise_action = "stop"\n'


def rig_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RIG, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_a_fault_named_with_its_site_hits_that_site_only(tmp_path):
    (tmp_path / "rig.toml").write_text(sites_rig_toml(3))
    (tmp_path / "p.toml").write_text(NOISE_STOPS)
    (tmp_path / "p2.toml").write_text(NOISE_STOPS.replace('pathways = ["S1"]', 'pathways = ["S1", "S2"]')
                                      .replace("intensity_uA = [100.0]", "intensity_uA = [100.0, 100.0]"))
    out = tmp_path / "f.sites.json"
    p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--site", "B=p2.toml", "--sim-fault", "B:noise@0.3",
                "--sim", "--speed", "max", "--no-gui", "--json", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 1, p.stderr  # B stopped by its alarm
    status = {s["name"]: s["status"] for s in json.loads(p.stdout)["sites"]}
    assert status == {"A": "completed", "B": "aborted", "C": "completed"}
    assert "rig: site B: aborted: alarm noise" in p.stderr
    alarms = {n: events_of(tmp_path / f"f_{n}.h5", "alarm") for n in "ABC"}
    assert alarms["B"] and alarms["B"][0][0] >= 0.3 * 60 and not alarms["A"] and not alarms["C"]
    # the same fault without a site: every site
    p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--site", "B=p2.toml", "--sim-fault", "noise@0.3",
                "--sim", "--speed", "max", "--no-gui", "--json", "--out", str(tmp_path / "all.sites.json"),
                cwd=tmp_path)
    assert {s["status"] for s in json.loads(p.stdout)["sites"]} == {"aborted"}


def test_bad_fault_specs_are_one_line_input_errors(tmp_path):
    (tmp_path / "rig.toml").write_text(sites_rig_toml(2))
    (tmp_path / "p.toml").write_text(baseline_toml(0.2, 5.0))
    for spec, said in (("Z:noise@1", "'Z' is not a [[site]] of the rig file (have: A, B)"),
                       ("B:nosie@1", "unknown fault 'nosie'")):
        p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--sim-fault", spec, "--sim", "--no-gui", cwd=tmp_path)
        assert p.returncode == 2 and said in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def ttl_rig() -> str:
    """Site A: an analog isolator; site B: a TTL-only isolator (a DS3) on port0/line0."""
    return sites_rig_toml(2).replace('[[stim]]\npathway = "B1"\nao = "ao1"\nuA_per_V = 100.0\n',
                                     '[[stim]]\npathway = "B1"\ntrigger_line = "port0/line0"\n') \
        .replace('stim = ["B1", "B2"]', 'stim = ["B1"]').replace('[[stim]]\npathway = "B2"\nao = "ao2"\n'
                                                                  'uA_per_V = 100.0\n', '')


def test_panel_gives_a_ttl_only_site_its_front_panel_setting(tmp_path):
    (tmp_path / "rig.toml").write_text(ttl_rig())
    (tmp_path / "p.toml").write_text(baseline_toml(0.5, 5.0))
    p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--sim", "--speed", "max", "--no-gui", cwd=tmp_path)
    assert p.returncode == 2 and "--panel: B1 is TTL-only" in p.stderr  # asked for (no terminal here)
    out = tmp_path / "t.sites.json"
    p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--panel", "B1=150:100", "--sim", "--speed", "max", "--no-gui",
                "--json", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    with h5py.File(tmp_path / "t_B.h5", "r") as h:
        assert json.loads(h.attrs["front_panel"]) == {"S1": [150.0, 100.0]}  # under the site's protocol name
        assert set(h["sweeps"]["intensity_uA"]) == {150.0}
    with h5py.File(tmp_path / "t_A.h5", "r") as h:
        assert json.loads(h.attrs["front_panel"]) == {}
    p = rig_cli("run", "p.toml", "--rig", "rig.toml", "--panel", "A1=150:100", "--sim", "--no-gui", cwd=tmp_path)
    assert p.returncode == 2 and "TTL-only here: B1" in p.stderr


def test_the_terminal_line_names_every_site_and_its_state():
    from rig.commands.run_sites import SitesProgress
    from rig.core import events as ev
    from rig.core.documents import Progress, RunStart, RunStop
    from rig.display.sites_status import SiteStatus

    st = {n: SiteStatus() for n in "ABC"}
    start = RunStart(sample_rate_hz=20000.0, ai_channels=("ai0",), ai_scale_mV_per_count=(1.0,), pathways=(0,),
                     plan_name="p", planned_samples=100_000, wall_time=0.0)
    for s in st.values():
        s(start)
        s(Progress(50_000, 100_000, 5))
    st["B"](ev.Paused(sample=50_000, text="paused"))
    st["C"](RunStop(60_000, "aborted", "alarm noise: too noisy", 0, 0))
    line = SitesProgress(st).line()
    assert line == "A  50% 5 sw  B PAUSED  50% 5 sw  C STOPPED BY ALARM  60% 5 sw"
