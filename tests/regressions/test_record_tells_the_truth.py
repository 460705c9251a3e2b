"""Issue 14, the record tells the truth: what was delivered, what was measured, re-analysis.

Each test is named after the bug it guards against and failed on main before the fix.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.analysis.summary import summarize
from rig.cli import main
from rig.core.documents import Progress
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml

SPEED = "20"  # 5.5 min of protocol in ~17 s of wall time; the sim board's 10 s buffer = 0.5 s of lag


def _protocol(tmp_path: Path, on_pause: str | None, base_min: float = 2.0, follow_min: float = 3.0) -> Path:
    text = tbs_toml(base_min, follow_min, 10.0, trains=3)
    if on_pause is not None:
        text = text.replace('pattern = "tbs"', f'pattern = "tbs"\non_pause = "{on_pause}"')
    p = tmp_path / f"tbs_{on_pause}.toml"
    p.write_text(text)
    return p


def _ctl(endpoint: Path, *args: str) -> dict:
    """`rig ctl` (its real code path and socket, in this process: a subprocess start takes longer than
    minutes of the accelerated run)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["ctl", "--endpoint", str(endpoint), *args]) == 0
    return json.loads(buf.getvalue()) if "--json" in args else {}


def _wait_status(endpoint: Path, proc: subprocess.Popen, until_s: float) -> dict:
    """Poll ``rig ctl status`` until the run's sample clock reaches ``until_s``."""
    while True:
        assert proc.poll() is None, "the run ended early"
        st = _ctl(endpoint, "status", "--json")["status"]
        if st["time_s"] >= until_s:
            return st
        time.sleep(0.1)


def _run_paused_across_induction(tmp_path: Path, on_pause: str | None) -> tuple[dict, dict]:
    """`rig run` as a subprocess; `rig ctl pause` at 1 min, `rig ctl resume` at 3 min (the TBS is due
    at 2 min). Returns the status at 2.5 min (paused across the induction) and the summary."""
    out = tmp_path / f"run_{on_pause}.h5"
    err = tmp_path / "run.err"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "rig.cli", "run", str(_protocol(tmp_path, on_pause)), "--sim",
                             "--speed", SPEED, "--seed", "1", "--no-gui", "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=err.open("w"))  # a full pipe would stall the run
    try:
        ep = out.with_name(out.name + ".ctl.json")
        while not ep.exists():
            assert proc.poll() is None, err.read_text()
            time.sleep(0.05)
        _wait_status(ep, proc, 60.0)
        _ctl(ep, "pause")
        held = _wait_status(ep, proc, 150.0)
        _wait_status(ep, proc, 180.0)
        _ctl(ep, "resume")
        assert proc.wait(timeout=600) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    with open_recording(out) as rec:
        return held, summarize(rec)


@pytest.fixture(scope="module")
def skipped(tmp_path_factory) -> tuple[dict, dict]:
    return _run_paused_across_induction(tmp_path_factory.mktemp("skip"), "skip")


def test_paused_induction_is_not_recorded_as_delivered(skipped):
    held, s = skipped
    assert held["paused"] and held["induced"] is False and held["phase_kind"] != "baseline"
    [ind] = s["inductions"]
    assert ind["pulses_planned"] == 120 and ind["pulses_delivered"] == 0 and ind["status"] == "skipped"
    assert ind["first_sample"] is None
    assert s["ltp_percent"] is None and s["reason"].startswith("no induction delivered")
    assert s["per_pathway"]["0"]["ltp_percent"] is None


def test_held_induction_is_delivered_after_the_resume(tmp_path):
    held, s = _run_paused_across_induction(tmp_path, None)  # the default: hold
    assert held["paused"] and held["induction_held"]["pulses_pending"] == 120 and not held["induced"]
    [ind] = s["inductions"]
    assert ind["pulses_planned"] == 120 and ind["first_sample"] >= 180 * 20_000  # after the resume at 3 min
    if s["gaps"] == 0:  # a loaded machine can make the paced sim board overflow; the count stays honest
        assert ind["pulses_delivered"] == 120 and ind["status"] == "delivered"
        assert s["ltp_percent"] is not None
    assert ind["pulses_delivered"] > 0 and len(s["induction_holds"]) == 1


def test_report_excludes_a_slice_whose_induction_delivered_nothing(skipped):
    from rig.analysis.report.collect import collect

    exps, excluded = collect([Path(skipped[1]["file"])], traces=False)
    assert not exps and "no induction delivered" in excluded[0].reason


def test_intensity_raised_after_induction_does_not_change_the_result_silently(tmp_path):
    """S1 +60 µA 5 min into the follow-up (an operator command at that sample): the result uses only
    the sweeps at the baseline intensity and warns about the others."""
    cmds: queue.Queue = queue.Queue()
    sent: list[int] = []

    def at_5_min_of_follow_up(doc: object) -> None:
        if isinstance(doc, Progress) and doc.sample >= 7.5 * 60 * 20_000 and not sent:
            sent.append(doc.sample)
            cmds.put({"cmd": "intensity", "pathway": 0, "delta_uA": 60.0, "source": "test"})

    out = tmp_path / "raised.h5"
    run_experiment(RunOptions(protocol=_protocol(tmp_path, None, follow_min=10.5), out=out, seed=1,
                              speed=None, commands=cmds, subscribers=[at_5_min_of_follow_up], control=False,
                              force_sim=True))
    with open_recording(out) as rec:
        s = summarize(rec)
    r = s["per_pathway"]["0"]
    assert r["other_intensity_sweeps"] > 10 and r["ltp_percent"] is not None
    assert any("intensity changed after the baseline" in w for w in s["warnings"])
    assert r["result_sweeps"] + r["other_intensity_sweeps"] >= 55  # the last 10 min at 0.1 Hz


def test_missing_genotype_is_recorded_unknown_and_meta_sets_it_from_the_command_line(tmp_path, capsys):
    proto = tmp_path / "short.toml"
    proto.write_text(tbs_toml(0.5, 0.5, 10.0, trains=1).replace('[experiment]', '[experiment]', 1))
    plain, tagged = tmp_path / "plain.h5", tmp_path / "tagged.h5"
    assert main(["run", str(proto), "--sim", "--speed", "max", "--no-gui", "--out", str(plain)]) == 0
    assert main(["run", str(proto), "--sim", "--speed", "max", "--no-gui", "--out", str(tagged),
                 "--meta", "animal=M12", "--meta", "slice=3", "--meta", "genotype=Fmr1-KO"]) == 0
    with open_recording(plain) as rec:
        assert json.loads(rec.attrs["metadata"])["genotype"] == "unknown"
    with open_recording(tagged) as rec:
        m = json.loads(rec.attrs["metadata"])
    assert (m["animal_id"], m["slice_id"], m["genotype"]) == ("M12", "3", "Fmr1-KO")
    capsys.readouterr()
    bad = tmp_path / "bad.h5"
    assert main(["run", str(proto), "--sim", "--no-gui", "--out", str(bad), "--meta", "age_days=-3"]) == 2
    err = capsys.readouterr().err
    assert "--meta age_days" in err and len(err.strip().splitlines()) == 1 and not bad.exists()
