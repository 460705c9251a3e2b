"""One simulated slice of a power study, through the real pipeline: the group's protocol expanded
for the rig, assembled by :mod:`rig.experiment.assemble` (virtual slice drawn from its seed,
engine, online detector, HDF5 storage), then its magnitude (% of baseline, last 10 min) read back
from the file exactly as ``rig report`` does (:func:`rig.analysis.report.collect.load_experiment`).
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from rig.core.errors import UserError
from rig.study.design import Design, Group, free_valve, group_protocol


@dataclass(frozen=True)
class SliceJob:
    """What a worker needs to simulate one slice (plain data: it travels to Dask workers)."""

    protocol_text: str
    protocol_name: str
    rig_path: str | None
    group: Group
    pre_incubation_min: float
    seed: int
    rep: int
    group_index: int
    slice_index: int


@dataclass(frozen=True)
class SliceResult:
    rep: int
    group_index: int
    slice_index: int
    seed: int
    magnitude_pct: float
    baseline_slope_mV_per_ms: float


def _plan(job: SliceJob):
    from rig.protocol.load import expand, parse_protocol
    from rig.protocol.models import Protocol
    from rig.protocol.rigfile import load_rig

    rig, _ = load_rig(Path(job.rig_path) if job.rig_path else None)
    if rig.backend != "sim":
        rig = rig.model_copy(update={"backend": "sim"})
    valve = free_valve(job.protocol_text, rig.valve_names()) if job.group.drug else None
    data = group_protocol(job.protocol_text, job.group, job.pre_incubation_min, valve)
    parse_protocol(job.protocol_text, job.protocol_name)  # the original: its errors name file:line
    try:
        proto = Protocol.model_validate(data)
    except ValueError as exc:
        raise UserError(f"{job.protocol_name}: group {job.group.label!r}: {str(exc).splitlines()[0]}") from None
    proto._source = (job.protocol_name, job.protocol_text)
    return expand(proto, rig, job.protocol_name), rig


def simulate_slice(job: SliceJob) -> SliceResult:
    """Simulate one slice as fast as possible and measure its result like ``rig report``."""
    from rig.analysis.report.collect import load_experiment
    from rig.experiment.assemble import assemble_run
    from rig.experiment.runner import analysis_windows

    plan, rig = _plan(job)
    with tempfile.TemporaryDirectory(prefix="rig-power-") as d:
        out = Path(d) / f"r{job.rep}_g{job.group_index}_s{job.slice_index}.h5"
        run = assemble_run(plan, rig, seed=job.seed, speed=None, out=out, windows=analysis_windows(plan, []),
                           provenance={"metadata": json.dumps(plan.metadata), "protocol_text": job.protocol_text})
        try:
            run.engine.run(threading.Event())
        finally:
            run.close()
        try:
            exp = load_experiment(out, traces=False)
        except ValueError as exc:  # e.g. a follow-up shorter than the result window
            raise UserError(f"{job.protocol_name}: no result for group {job.group.label!r}: {exc}") from None
    return SliceResult(job.rep, job.group_index, job.slice_index, job.seed, float(exp.magnitude_pct),
                       float(exp.baseline_slope))


def jobs(design: Design) -> list[SliceJob]:
    """Every slice of the study, in a fixed order."""
    return [SliceJob(design.protocol_text, str(design.protocol), str(design.rig_path) if design.rig_path else None,
                     design.groups[g], design.pre_incubation_min, design.slice_seed(r, g, k), r, g, k)
            for r, g, k in design.tasks()]


def check_design(design: Design) -> None:
    """Build every group's plan and virtual slice once, before anything runs (a bad genotype, drug
    or protocol is a one-line UserError naming the group)."""
    from rig.experiment.assemble import make_slice_model

    for g, group in enumerate(design.groups):
        job = SliceJob(design.protocol_text, str(design.protocol), str(design.rig_path) if design.rig_path else None,
                       group, design.pre_incubation_min, design.seed, 0, g, 0)
        plan, rig = _plan(job)
        if group.drug and not any(ph.kind == "drug" for ph in plan.phases):
            raise UserError(f"--group {group.label!r}: the drug phase was not added")
        try:
            make_slice_model(rig, plan, design.seed)
        except ValueError as exc:
            raise UserError(f"--group {group.label!r}: {exc}") from None


def simulate_recording(job: tuple[str, str, int, str | None]) -> tuple[str, float, str]:
    """A worker's job for a study that keeps its recordings (``examples/basimglurant_study.py``):
    run protocol file ``job[0]`` to recording ``job[1]`` with seed ``job[2]`` on rig file ``job[3]``
    (None: the simulated rig), as fast as possible. Returns (file, wall s, error or ''): one slice's
    failure is reported, the study goes on."""
    import time

    from rig.experiment.runner import RunOptions, run_experiment

    proto, out, seed, rig = job
    t0 = time.perf_counter()
    try:
        res = run_experiment(RunOptions(protocol=Path(proto), out=Path(out), seed=seed,
                                        rig=Path(rig) if rig else None, control=False))
        return str(res.path), time.perf_counter() - t0, ""
    except Exception as exc:  # noqa: BLE001 - reported per slice, the study goes on
        return out, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
