"""Status texts of the window (pure functions of the model and the plan; no Qt)."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from rig.core.plan import Plan
from rig.display.model import DisplayModel


def hms(seconds: float) -> str:
    """``h:mm:ss`` (or ``m:ss`` under an hour); ``—`` for NaN/None."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


_disk_cache: dict[str, tuple[float, float]] = {}


def free_disk_gb(path: str | Path | None, max_age_s: float = 5.0) -> float:
    """Free space (GB) on the disk holding ``path`` (or its nearest existing parent), cached
    for ``max_age_s`` s (the status is redrawn up to 30×/s)."""
    if not path:
        return math.nan
    now = time.monotonic()
    hit = _disk_cache.get(str(path))
    if hit is not None and now - hit[0] < max_age_s:
        return hit[1]
    gb = _free_disk_gb(path)
    _disk_cache[str(path)] = (now, gb)
    return gb


def _free_disk_gb(path: str | Path) -> float:
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free / 1e9
    except OSError:
        return math.nan


def phase_time_left_s(model: DisplayModel, plan: Plan | None) -> float:
    """Seconds left in the current phase at its planned length (NaN without a plan)."""
    ph = model.current_phase()
    if ph is None or plan is None or not 0 <= ph.index < len(plan.phases):
        return math.nan
    end = ph.start_s + plan.phases[ph.index].duration_samples / model.fs
    return end - model.elapsed_s


def next_stimulus_s(model: DisplayModel, plan: Plan | None) -> float:
    """Seconds to the next planned stimulus of the current phase (NaN when unknown/none)."""
    ph = model.current_phase()
    if ph is None or plan is None or not 0 <= ph.index < len(plan.phases) or model.paused:
        return math.nan
    phase = plan.phases[ph.index]
    start = round(ph.start_s * model.fs)
    rel = model.now_sample - start
    cands = [s.sample for s in phase.stimuli if s.sample >= rel]
    if phase.test is not None:
        horizon = rel + phase.test.interval_samples + 1
        nxt = phase.test.pulse_times(rel, horizon)
        if nxt:
            cands.append(nxt[0][0])
    limit = phase.max_duration_samples or phase.duration_samples
    cands = [c for c in cands if c < limit]
    return (min(cands) - rel) / model.fs if cands else math.nan


@dataclass(frozen=True)
class StatusText:
    state: str
    phase: str
    phase_left: str
    elapsed: str
    next_stim: str
    intensity: str
    sweeps: str
    gaps: str
    gaps_alarm: bool
    file: str
    alarm: str


def status_text(model: DisplayModel, plan: Plan | None, out_path: str | None,
                dropped_sweeps: int = 0) -> StatusText:
    """Everything the status area shows, formatted."""
    if model.run is None:
        state = "WAITING"
    elif model.stop is not None:
        state = f"STOPPED ({model.stop.reason})"
    elif model.paused:
        state = "PAUSED"
    else:
        state = "RECORDING"
    ph = model.current_phase()
    n_ph = len(plan.phases) if plan is not None else None
    phase = "—" if ph is None else (
        f"{ph.name} ({ph.index + 1}/{n_ph})" if n_ph else ph.name)
    intens = "  ".join(
        f"S{p + 1} {model.intensity_uA[p]:.0f} µA" for p in model.pathways
        if p in model.intensity_uA) or "—"
    lost = model.lost_samples
    gaps = f"{model.gap_events} gaps · {lost} lost"
    if dropped_sweeps:  # display only: every sweep is recorded
        gaps += f"  (display skipped {dropped_sweeps} sweeps)"
    free = free_disk_gb(out_path)
    file = "—" if not out_path else (
        f"{out_path}  ·  {free:.1f} GB free" if math.isfinite(free) else str(out_path))
    return StatusText(
        state=state,
        phase=phase,
        phase_left=hms(phase_time_left_s(model, plan)),
        elapsed=hms(model.elapsed_s),
        next_stim=("held" if model.paused else hms(next_stimulus_s(model, plan))),
        intensity=intens,
        sweeps=f"{model.n_sweeps}",
        gaps=gaps,
        gaps_alarm=(model.gap_events + lost) > 0,
        file=file,
        alarm=model.last_alarm or "none",
    )
