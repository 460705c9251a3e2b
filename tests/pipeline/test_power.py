"""`rig power` on realistic simulated slices: the LocalCluster run equals the serial run for the same
seeds, a worker that dies costs only its slice (rescheduled), and the command writes its curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cloudpickle
import pytest

from rig.study import execute
from rig.study.design import Design, parse_group
from rig.study.power import power_curve
from rig.study.simulate import check_design, jobs, simulate_slice

ROOT = Path(__file__).resolve().parents[2]
TINY = """
[experiment]
name = "tiny DHPG"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]

[[phases]]
kind = "baseline"
name = "baseline"
duration_min = 1.0
interval_s = 30.0

[[phases]]
kind = "chemical"
name = "DHPG"
drug = "DHPG"
concentration_uM = 100.0
duration_min = 1.0
valve = "drug_A"
interval_s = 30.0

[[phases]]
kind = "follow_up"
name = "follow-up"
duration_min = 10.0
interval_s = 30.0
"""


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> Design:
    p = tmp_path_factory.mktemp("power") / "tiny.toml"
    p.write_text(TINY)
    d = Design(p, TINY, None, (parse_group("Fmr1-KO vehicle"), parse_group("Fmr1-KO + basimglurant 3 nM")),
               (2,), repeats=2, seed=11, pre_incubation_min=1.0)
    check_design(d)
    return d


@pytest.fixture(scope="module")
def serial(design):
    return execute.run_serial(simulate_slice, jobs(design))


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_serial_slices_are_real_and_distinct(design, serial):
    assert len(serial) == 2 * 2 * 2
    mags = [r.magnitude_pct for r in serial]
    assert len(set(mags)) == len(mags)  # every slice its own seed and its own biology
    assert all(40 < m < 160 for m in mags)
    assert len({r.seed for r in serial}) == len(serial)
    pts = power_curve(design, serial, "welch")
    assert pts[0].repeats == 2 and 0.0 <= pts[0].power <= 1.0


def test_local_cluster_equals_serial(design, serial, client):
    assert execute.run_dask(simulate_slice, jobs(design), client) == serial


def die_once(job, marker: str):
    """The worker simulating the marked slice dies the first time (os._exit: no cleanup, like a kill)."""
    if job.rep == 1 and job.group_index == 1 and job.slice_index == 0 and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
    return simulate_slice(job)


def test_worker_death_costs_only_its_slice(design, serial, client, tmp_path):
    import functools

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "died"
    res = execute.run_dask(functools.partial(die_once, marker=str(marker)), jobs(design), client)
    assert marker.exists()  # a worker really died ...
    assert res == serial  # ... and its slice was simulated again, on a live worker, with the same seed


def test_rig_power_cli_serial_writes_curve(design, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "rig.cli", "power", "--protocol", str(design.protocol),
                        "--group", "Fmr1-KO vehicle", "--group", "Fmr1-KO + basimglurant 3 nM", "--n", "2",
                        "--repeats", "2", "--seed", "11", "--pre-incubation-min", "1", "--serial",
                        "--out", str(out), "--json"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["slices_simulated"] == 8 and doc["power"][0]["n"] == 2
    assert "slices" in r.stderr  # the progress bar
    assert (out / "power.png").stat().st_size > 1000
    rows = (out / "slices.csv").read_text().splitlines()
    assert len(rows) == 9


@pytest.mark.parametrize("argv, needle", [
    (["--group", "WT vehicle"], "at least two groups"),
    (["--group", "WT vehicle", "--group", "WT + MPEP forty"], "'+ DRUG CONC UNIT'"),
    (["--group", "WT vehicle", "--group", "Rat-KO vehicle"], "genotype"),
    (["--group", "WT vehicle", "--group", "WT + MPEP 40 µM", "--n", "1:4"], "2..200"),
    (["--group", "WT vehicle", "--group", "WT + MPEP 40 µM", "--test", "anova"], "--test anova"),
])
def test_rig_power_bad_input_is_one_line_exit_2(design, tmp_path, argv, needle):
    out = tmp_path / "never"
    r = subprocess.run([sys.executable, "-m", "rig.cli", "power", "--protocol", str(design.protocol), *argv,
                        "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not out.exists()
