"""A real simulated run whose operator pauses, resumes, marks and changes an intensity, with an
induction and an alarm, recorded document by document (for the event vocabulary tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.core.commands import Command, make_command_queue, post
from rig.core.documents import Progress
from rig.experiment.runner import RunOptions, run_experiment
from tests.conftest import tbs_toml

FS = 20_000.0
# (experiment time s, command): the operator's actions during the baseline
SCRIPT: tuple[tuple[float, Command], ...] = (
    (30.0, Command("pause", source="test")),
    (55.0, Command("resume", source="test")),
    (65.0, Command("mark", text="drug on", source="test")),
    (75.0, Command("intensity", pathway=0, delta_uA=10.0, source="test")),
    (85.0, Command("induce_now", source="test")),  # refused? no: a baseline with a phase after it
    (200.0, Command("extend_baseline", source="test")),  # refused: not in a baseline phase
)
# a noise alarm that certainly fires (the simulated slice has 20–35 µV of noise)
ALARMS = "\n[alarms]\nnoise_max_uV = 1.0\nnoise_action = \"continue\"\n"


@dataclass
class RecordedRun:
    docs: list
    path: Path
    intensity_before_uA: float


class _Operator:
    """Subscriber: records every document and posts the scripted commands when the sample clock
    passes their time (the controller drains the queue on the next block)."""

    def __init__(self, q) -> None:
        self.q, self.docs, self.todo = q, [], list(SCRIPT)

    def __call__(self, doc: object) -> None:
        self.docs.append(doc)
        if isinstance(doc, Progress):
            while self.todo and doc.sample >= self.todo[0][0] * FS:
                post(self.q, self.todo.pop(0)[1])


def record_run(tmp: Path, *, windows: list[str] | None = None) -> RecordedRun:
    proto = tmp / "events.toml"
    proto.write_text(tbs_toml(base_min=2.0, follow_min=2.0, interval_s=5.0) + ALARMS)
    q = make_command_queue()
    op = _Operator(q)
    opts = RunOptions(protocol=proto, out=tmp / "events.h5", seed=3, speed=None, subscribers=[op],
                      commands=q, control=False, force_sim=True, windows=list(windows or []))
    res = run_experiment(opts)
    return RecordedRun(op.docs, res.path, 100.0)
