"""Issue 14, the record tells the truth: what was delivered, what was measured, re-analysis.

Each test is named after the bug it guards against and failed on main before the fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rig.analysis.summary import summarize
from rig.cli import main
from rig.storage import open_recording
from tests.conftest import ROOT, tbs_toml

SPEED = "30"  # a 13-min protocol in ~26 s of wall time (paced; the machine is shared: faster drops samples)


def _protocol(tmp_path: Path, on_pause: str | None) -> Path:
    text = tbs_toml(2.0, 10.5, 10.0, trains=3)
    if on_pause is not None:
        text = text.replace('pattern = "tbs"', f'pattern = "tbs"\non_pause = "{on_pause}"')
    p = tmp_path / f"tbs_{on_pause}.toml"
    p.write_text(text)
    return p


def _ctl(capsys, endpoint: Path, *args: str) -> dict:
    """`rig ctl` (its real code path and socket, in this process: a subprocess start takes longer than
    minutes of the accelerated run)."""
    capsys.readouterr()
    assert main(["ctl", "--endpoint", str(endpoint), *args]) == 0
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else {}


def _wait_status(capsys, endpoint: Path, proc: subprocess.Popen, until_s: float) -> dict:
    """Poll ``rig ctl status`` until the run's sample clock reaches ``until_s``."""
    while True:
        assert proc.poll() is None, "the run ended early"
        st = _ctl(capsys, endpoint, "status", "--json")["status"]
        if st["time_s"] >= until_s:
            return st
        time.sleep(0.1)


PAUSE_ACROSS_INDUCTION = [(60.0, ("pause",)), (150.0, ("status",)), (180.0, ("resume",))]


def _run_with_pause(capsys, tmp_path: Path, on_pause: str | None,
                    script: list[tuple[float, tuple[str, ...]]] = PAUSE_ACROSS_INDUCTION) -> tuple[dict, dict]:
    """`rig run` as a subprocess driven by `rig ctl` at sample-clock times (default: pause at 1 min,
    resume at 3 min; the TBS is due at 2 min). Returns the status seen at the ``status`` step and the
    summary of the recording."""
    out = tmp_path / f"run_{on_pause}.h5"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "rig.cli", "run", str(_protocol(tmp_path, on_pause)), "--sim",
                             "--speed", SPEED, "--seed", "1", "--no-gui", "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "run.err").open("w"))  # a full pipe would stall the run
    try:
        ep = out.with_name(out.name + ".ctl.json")
        while not ep.exists():
            assert proc.poll() is None, (tmp_path / "run.err").read_text()
            time.sleep(0.05)
        held: dict = {}
        for at_s, args in script:
            st = _wait_status(capsys, ep, proc, at_s)
            if args == ("status",):
                held = st
            else:
                _ctl(capsys, ep, *args)
        assert proc.wait(timeout=600) == 0, (tmp_path / "run.err").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    with open_recording(out) as rec:
        s = summarize(rec)
    assert s["gaps"] == 0  # the paced run kept up: every stimulus was due on time
    return held, s


def test_paused_induction_is_not_recorded_as_delivered(tmp_path, capsys):
    held, s = _run_with_pause(capsys, tmp_path, "skip")
    assert held["paused"] and held["induced"] is False
    [ind] = s["inductions"]
    assert ind["pulses_planned"] == 120 and ind["pulses_delivered"] == 0 and ind["status"] == "skipped"
    assert s["ltp_percent"] is None and s["reason"].startswith("no induction delivered")
    assert s["per_pathway"]["0"]["ltp_percent"] is None


def test_held_induction_is_delivered_after_the_resume(tmp_path, capsys):
    held, s = _run_with_pause(capsys, tmp_path, None)  # the default: hold
    assert held["paused"] and held["induction_held"]["pulses_pending"] == 120 and not held["induced"]
    [ind] = s["inductions"]
    assert ind["pulses_planned"] == ind["pulses_delivered"] == 120 and ind["status"] == "delivered"
    assert ind["first_sample"] >= 180 * 20_000  # after the resume at 3 min
    assert s["ltp_percent"] is not None and s["ltp_percent"] > 110.0
    assert len(s["induction_holds"]) == 1


def test_report_excludes_a_slice_whose_induction_delivered_nothing(tmp_path, capsys):
    from rig.analysis.report.collect import collect

    _, s = _run_with_pause(capsys, tmp_path, "skip")
    exps, excluded = collect([Path(s["file"])], traces=False)
    assert not exps and "no induction delivered" in excluded[0].reason


def test_intensity_raised_after_induction_does_not_change_the_result_silently(tmp_path, capsys):
    """`rig ctl intensity S1 +60` 5 min into the follow-up: the result uses only the sweeps at the
    baseline intensity and warns about the others."""
    _, s = _run_with_pause(capsys, tmp_path, None, script=[(330.0, ("intensity", "S1", "+60"))])
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
