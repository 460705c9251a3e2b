"""Real simulated runs recorded document by document for the window tests (issue 16): a short TBS
experiment whose operator pauses before the induction (held) and resumes, with a noise fault in
the follow-up (an alarm), and a short paired-pulse run (a PPR per sweep)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.core.commands import Command, make_command_queue, post
from rig.core.documents import Progress
from rig.core.plan import Plan
from rig.experiment.runner import RunOptions, prepare, run_experiment
from tests.conftest import tbs_toml

FS = 20_000.0
PAUSE_S, RESUME_S = 100.0, 150.0  # the baseline ends at 120 s: the induction is held meanwhile
NOISE_FAULT = "noise@4.5min"

PAIRED = """
[experiment]
name = "paired"

[stimulation]
pathways = ["S1"]
intensity_uA = [150.0]

[[phases]]
kind = "paired_pulse"
name = "PPF"
intervals_ms = [50.0]
repeats = 4
interval_s = 5.0
"""


@dataclass
class WindowRun:
    docs: list
    path: Path
    plan: Plan


class _Operator:
    def __init__(self, q, script) -> None:
        self.q, self.docs, self.todo = q, [], list(script)

    def __call__(self, doc: object) -> None:
        self.docs.append(doc)
        if isinstance(doc, Progress):
            while self.todo and doc.sample >= self.todo[0][0] * FS:
                post(self.q, self.todo.pop(0)[1])


def record(tmp: Path, text: str, name: str, script=(), faults: list[str] | None = None) -> WindowRun:
    proto = tmp / f"{name}.toml"
    proto.write_text(text)
    q = make_command_queue()
    op = _Operator(q, script)
    opts = RunOptions(protocol=proto, out=tmp / f"{name}.h5", seed=3, speed=None, subscribers=[op],
                      commands=q, control=False, force_sim=True, sim_faults=list(faults or []))
    res = run_experiment(opts)
    return WindowRun(op.docs, res.path, prepare(opts)[0])


def record_tbs(tmp: Path) -> WindowRun:
    script = ((PAUSE_S, Command("pause", source="test")), (RESUME_S, Command("resume", source="test")))
    return record(tmp, tbs_toml(base_min=2.0, follow_min=4.0, interval_s=5.0), "tbs", script, [NOISE_FAULT])


def record_paired(tmp: Path) -> WindowRun:
    return record(tmp, PAIRED, "paired")
