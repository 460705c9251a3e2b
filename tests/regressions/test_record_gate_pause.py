"""Issue 14: pausing inside a gated baseline (and across a held induction) and the baseline gate.

Each test is named after the bug it guards against and failed on main before the fix. Real
simulated runs (``run_experiment``, the code path of ``rig run``); the operator's pause and resume
are commands sent at sample-clock times.
"""

from __future__ import annotations

import queue
from pathlib import Path

from rig.analysis.summary import summarize
from rig.core.documents import Progress
from rig.experiment.runner import RunOptions, run_experiment
from rig.storage import open_recording
from tests.conftest import tbs_toml

FS = 20_000


def gated_tbs(tmp_path: Path, base_min: float = 2.0, max_min: float = 3.0) -> Path:
    """A short TBS protocol whose baseline is gated (generous criteria over a 1 min window)."""
    text = tbs_toml(base_min, 2.0, 10.0, trains=1)
    text = text.replace(f"duration_min = {base_min!r}\ninterval_s = 10.0", (
        f"duration_min = {base_min!r}\ninterval_s = 10.0\nmax_duration_min = {max_min!r}\n"
        "stability = { max_drift_percent_per_10min = 100.0, max_halves_diff_percent = 50.0, window_min = 1.0 }\n"
        'on_unstable = "abort"'), 1)
    assert "stability" in text
    # auto windows off: their 10 settling sweeps would restart the gate on a 12-sweep baseline
    text = text.replace("[stimulation]", "[analysis]\nauto_windows = false\n\n[stimulation]", 1)
    p = tmp_path / "gated_tbs.toml"
    p.write_text(text)
    return p


def run_with_commands(protocol: Path, out: Path, at_s: list[tuple[float, str]]) -> dict:
    """Run the protocol (simulated, as fast as possible) sending each command at its sample-clock time."""
    cmds: queue.Queue = queue.Queue()
    todo = sorted(at_s)

    def send(doc: object) -> None:
        while todo and isinstance(doc, Progress) and doc.sample >= todo[0][0] * FS:
            cmds.put({"cmd": todo.pop(0)[1], "source": "test"})

    run_experiment(RunOptions(protocol=protocol, out=out, seed=1, speed=None, commands=cmds, subscribers=[send],
                              control=False, force_sim=True))
    with open_recording(out) as rec:
        return summarize(rec)


def test_pausing_inside_a_gated_baseline_aborts_the_run(tmp_path):
    """Paused from 0.5 to 4 min of a 2-min gated baseline (max 3 min): the gate must wait for the
    resume and judge the sweeps after it, not abort the run at its maximum while nothing was tested."""
    s = run_with_commands(gated_tbs(tmp_path), tmp_path / "paused.h5", [(30.0, "pause"), (240.0, "resume")])
    assert s["stop_reason"] == "completed", s["events"][-5:]
    [ind] = s["inductions"]
    assert ind["pulses_delivered"] == 40 and ind["first_sample"] > 240 * FS
    kinds = [e["kind"] for e in s["events"]]
    assert "baseline_unstable" not in kinds and "baseline_stable" in kinds
    assert s["ltp_percent"] is not None


def test_held_induction_is_delivered_at_the_resume_without_rechecking_the_baseline_gate(tmp_path):
    """Gated baseline (2 min) → 1 min drug phase → TBS; paused at 2.5 min (in the drug phase, across the
    induction's start at 3 min), resumed at 5 min: the TBS waits until the gate holds again on test sweeps
    after the resume (its window is 1 min, so not before 6 sweeps after 5 min)."""
    proto = gated_tbs(tmp_path)
    text = proto.read_text().replace("[[phases]]\nkind = \"induction\"", (
        '[[phases]]\nkind = "drug"\nname = "drug"\ndrug = "MPEP"\nconcentration_uM = 0.001\n'
        'wash_in_min = 1.0\ninterval_s = 10.0\n\n'
        '[[phases]]\nkind = "induction"'), 1)
    proto.write_text(text)
    s = run_with_commands(proto, tmp_path / "held.h5", [(150.0, "pause"), (300.0, "resume")])
    assert s["stop_reason"] == "completed", s["events"][-5:]
    [ind] = s["inductions"]
    assert ind["pulses_delivered"] == 40
    again = [e for e in s["events"] if e["kind"] == "baseline_stable" and "after the resume" in e["text"]]
    assert len(again) == 1 and 300 + 50 <= again[0]["time_s"] <= ind["first_sample"] / FS


def test_test_and_io_sweeps_record_planned_not_delivered_pulses(tmp_path):
    """Every sweep row (I/O, test, train) holds the pulses counted from the output blocks written,
    with the first and last delivered onset."""
    io = ('[[phases]]\nkind = "io_curve"\nname = "I/O"\nstart_uA = 25.0\nstop_uA = 100.0\nstep_uA = 25.0\n'
          'repeats = 1\ninterval_s = 5.0\n\n')
    text = tbs_toml(1.0, 1.0, 10.0).replace("[[phases]]", io + "[[phases]]", 1)
    proto = tmp_path / "io_tbs.toml"
    proto.write_text(text)
    s = run_with_commands(proto, tmp_path / "io.h5", [])
    with open_recording(tmp_path / "io.h5") as rec:
        st = rec.sweep_table
        assert {k.decode() for k in st["kind"]} == {"io", "test", "train"}
        for i in range(rec.n_sweeps):
            pulses = rec.pulse_samples(i)
            r = st[i]
            assert r["pulses_planned"] == r["n_pulses"] == r["pulses_delivered"]
            assert (r["first_pulse_sample"], r["last_pulse_sample"]) == (pulses[0], pulses[-1])
    assert s["sweep_delivery"]["io"]["pulses_delivered"] == 4 and s["sweep_delivery"]["train"]["short_sweeps"] == 0
