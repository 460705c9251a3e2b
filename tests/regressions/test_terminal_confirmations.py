"""Issue 16, the headless terminal in a real pseudo-terminal: an intensity change beyond ±20 % of
the baseline intensity went out on one key, and a refused command (induce now during a pause)
was silent in the terminal. Both tests failed on the code before the fix."""

from __future__ import annotations

from rig.storage import open_recording
from tests.conftest import tbs_toml
from tests.regressions.test_terminal_bugs import PtyRun


def _start(tmp_path, name: str) -> tuple[PtyRun, object]:
    proto = tmp_path / "t.toml"
    proto.write_text(tbs_toml(20.0, 10.0).replace("intensity_uA = [100.0]", "intensity_uA = [20.0]"))
    out = tmp_path / f"{name}.h5"
    run = PtyRun(["run", str(proto), "--sim", "--speed", "20", "--no-gui", "--out", str(out)])
    assert run.read_until(b"keys:"), run.out.decode(errors="replace")
    assert run.read_until(b" 2 sweeps"), run.out.decode(errors="replace")  # the baseline intensity is known
    return run, out


def _stop(run: PtyRun) -> None:
    run.type("s")
    assert run.read_until(b"stop the run")
    run.type("y")
    assert run.wait() == 130, run.out.decode(errors="replace")


def test_intensity_beyond_20_percent_of_baseline_needs_a_second_key(tmp_path):
    run, out = _start(tmp_path, "intensity")
    run.type("+")  # 20 → 25 µA: +25 %
    assert run.read_until(b"S1 to 25 \xc2\xb5A is +25 % of the baseline intensity (20 \xc2\xb5A)? press y within 3 s")
    run.type("x")
    assert run.read_until(b"intensity cancelled (key 'x'; nothing sent)")
    run.type("-")  # 20 → 15 µA: −25 %
    assert run.read_until(b"S1 to 15 \xc2\xb5A is -25 % of the baseline intensity (20 \xc2\xb5A)?")
    run.type("y")
    assert run.read_until(b"intensity sent")
    _stop(run)
    with open_recording(out) as rec:
        ops = [e for e in rec.events if e["kind"] == "operator"]
    assert [e["data"].get("delta_uA") for e in ops if e["text"].startswith("intensity")] == [-5.0]


def test_a_refused_command_says_why_in_the_terminal(tmp_path):
    run, out = _start(tmp_path, "refused")
    run.type("p")
    assert run.read_until(b"pause sent")
    run.type("i")
    assert run.read_until(b"induce now")
    run.type("y")
    assert run.read_until(b"induce_now sent")
    assert run.read_until(b"rig: induce_now from terminal (refused: stimulation is paused"), run.out.decode(
        errors="replace")
    _stop(run)
    with open_recording(out) as rec:
        phases = [p["kind"] for p in rec.phases]
    assert "induction" not in phases
