"""What the engine does with each single-pulse test sweep besides measuring it: the window proposal
from the first baseline sweeps of each pathway, and the averaged measurement of N consecutive sweeps
(stored as rows of ``/measurements`` with ``averaged_n`` = N, and an ``average_measured`` event).

Both are pure functions of the sweeps they are given (no device, no run state beyond their buffers);
the engine emits the documents they return and hands a proposal to the controller, which decides
whether to apply it (:mod:`rig.closed_loop.auto_windows`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rig.detector.measurement import FLOAT_FIELDS, Windows, measure
from rig.detector.proposal import AutoWindows, average_sweeps, propose_windows

if TYPE_CHECKING:  # (imported where used: `rig analyze` of an ABF file never loads the event vocabulary)
    from rig.core import events as ev
    from rig.core.documents import Measured

EVENT_DATA_BYTES = 1000  # a stored event's JSON data holds 1024 bytes
# Online the slope window runs from the volley's rebound / 20 % of the rise to 80 % (offline `rig
# analyze` stops at 60 %, the corpus' definition of the true slope): hundreds of sweeps are measured
# one by one, and a 20–80 % window is ~1.6× longer, so each sweep's slope is ~2× less noisy; the
# ratio to the baseline (the result) does not depend on where on the rise the window lies.
ONLINE_RISE_FRACTION = 0.8
# ... and starts at the fEPSP onset (the 10 % point after the volley's rebound) rather than at 20 %: on
# the simulated slice every window on the rise reads the true potentiation without noise (167.0 % on
# tbs_ltp, seed 1), so what decides is the noise: 3.25–4.5 ms (25 samples at 20 kHz) has a per-sweep
# noise CV of 3.5 % against 4.4 % for 3.4–4.5 ms (docs/analysis.md, "Auto windows on the simulated slice").
ONLINE_FROM_ONSET = True
_AVG_FIELDS = ("slope_mV_per_ms", "slope_max_mV_per_ms", "slope_2080_mV_per_ms", "amplitude_mV",
               "volley_mV", "pop_spike_mV", "peak_latency_ms", "noise_mV")


def proposal_event(pathway: int, prop: AutoWindows, sweeps: int, sample: int, name: str) -> ev.WindowsProposed:
    """The ``windows_proposed`` event of a proposal (landmarks trimmed to fit a stored event)."""
    from rig.core import events as ev

    names = ("volley", "slope", "peak")
    text = ", ".join(f"{n} {getattr(prop.windows, n)[0]:.2f}–{getattr(prop.windows, n)[1]:.2f} ms" for n in names)
    said = text if prop.ok else prop.message
    wins = {k: v for k, v in prop.windows.to_dict().items() if isinstance(v, list)}
    lm = dict(prop.landmarks_ms)
    e = ev.WindowsProposed(sample=sample, text=f"{name}: {said}"[:250], pathway=pathway, ok=prop.ok,
                           windows=wins, landmarks_ms=lm, sweeps=sweeps, confidence=prop.confidence.get("slope"))
    for drop in ("rebound_mV", "volley_mV", "noise_mV", "baseline_ms", "pop_spike_start", "t80", "onset"):
        if len(json.dumps(e.data, default=str)) <= EVENT_DATA_BYTES:
            break
        lm.pop(drop, None)
        e = ev.WindowsProposed(sample=sample, text=e.text, pathway=pathway, ok=prop.ok, windows=wins,
                               landmarks_ms=lm, sweeps=sweeps, confidence=e.confidence)
    return e


@dataclass(frozen=True)
class AveragedBlock:
    """A block of consecutive test sweeps of a pathway measured as their average (sweep indices;
    ``sample``: its rows' sample, the last sweep's stimulus) — re-measured by a new analysis version."""

    pathway: int
    phase: int
    sample: int
    sweeps: tuple[int, ...]


class OnlineSweeps:
    """Per pathway: the first ``propose_after`` baseline test sweeps (for the window proposal) and
    blocks of ``average_n`` consecutive test sweeps of one phase and one window set (for the averaged
    measurement; every block measured is listed in ``blocks``)."""

    def __init__(self, fs_hz: float, propose_after: int = 5, average_n: int = 1) -> None:
        self.fs = float(fs_hz)
        self.propose_after = int(propose_after)
        self.average_n = int(average_n)
        self._first: dict[int, list[tuple[np.ndarray, int]]] = {}
        self._block: dict[int, list[tuple[np.ndarray, int, int, int, int]]] = {}  # trace, stim, sweep, phase, flags
        self._block_windows: dict[int, Windows] = {}
        self.blocks: list[AveragedBlock] = []  # every averaged block measured, in order

    def proposal(self, pathway: int, trace: np.ndarray, stim_index: int, phase_kind: str,
                 windows: Windows) -> AutoWindows | None:
        """Add a test sweep; the proposal once the pathway has ``propose_after`` baseline sweeps."""
        if self.propose_after <= 0 or phase_kind != "baseline":
            return None
        buf = self._first.setdefault(pathway, [])
        if len(buf) >= self.propose_after:
            return None
        buf.append((trace, stim_index))
        if len(buf) < self.propose_after:
            return None
        avg, stim = average_sweeps([t for t, _ in buf], [i for _, i in buf], self.propose_after)
        return propose_windows(avg, stim, self.fs, windows, ONLINE_RISE_FRACTION, ONLINE_FROM_ONSET)

    def average(self, pathway: int, trace: np.ndarray, stim_index: int, meas: Measured, windows: Windows,
                clip_mV: float, sample: int, name: str) -> list:
        """Add a test sweep (its single-sweep measurement ``meas``); when ``average_n`` consecutive sweeps of
        this pathway (in one phase, one window set) are in: the averaged measurement's rows (a
        ``Measured`` with ``averaged_n``, :func:`averaged_records`) and its ``average_measured`` event.
        A block's flags include every bit of its single sweeps."""
        if self.average_n <= 1:
            return []
        buf = self._block.setdefault(pathway, [])
        if self._block_windows.get(pathway) != windows:
            buf.clear()  # a block never spans two window sets ...
        self._block_windows[pathway] = windows
        phase, flags = meas.phase, int(meas.records[0]["flags"])
        if buf and (buf[-1][3] != phase or buf[-1][0].size != trace.size or buf[-1][1] != stim_index):
            buf.clear()  # ... nor two phases or two sweep geometries
        buf.append((trace, stim_index, meas.sweep_index, phase, flags))
        if len(buf) < self.average_n:
            return []
        avg = np.mean(np.stack([b[0] for b in buf]), axis=0)
        rec = measure(avg, stim_index, self.fs, windows, clip_mV)
        for b in buf:
            rec["flags"] |= np.uint32(b[4])
        r = rec[0]
        vals = {k: (round(float(r[k]), 6) if math.isfinite(float(r[k])) else None)
                for k in _AVG_FIELDS if k in FLOAT_FIELDS}
        first, last = buf[0][2], buf[-1][2]
        self.blocks.append(AveragedBlock(pathway, phase, meas.sample, tuple(int(b[2]) for b in buf)))
        buf.clear()
        slope = vals["slope_mV_per_ms"]
        said = f"{slope:.4f} mV/ms" if slope is not None else "no slope"
        from rig.core import events as ev
        from rig.core.documents import Measured

        rows = Measured(last, pathway, phase, meas.sample, averaged_records(rec, self.average_n, first),
                        analysis=meas.analysis)
        return [rows, ev.AverageMeasured(sample=sample, text=f"{name}: average of sweeps {first}–{last}: {said}",
                                         pathway=pathway, first_sweep=first, last_sweep=last, sweeps=self.average_n,
                                         values=vals, flags=int(r["flags"]))]


def averaged_records(records: np.ndarray, n: int, first_sweep: int) -> np.ndarray:
    """Detector records of an averaged sweep with the row keys that mark them (format 1.4):
    ``averaged_n`` (how many sweeps; 0 in a single sweep's row) and ``first_sweep`` (the block's
    first sweep; its ``sweep_index`` is the last). The writer copies these fields into the row."""
    dt = np.dtype(records.dtype.descr + [(k, t) for k, t in AVERAGED_KEYS])
    out = np.zeros(len(records), dtype=dt)
    for k in records.dtype.names:
        out[k] = records[k]
    out["averaged_n"], out["first_sweep"] = int(n), int(first_sweep)
    return out


AVERAGED_KEYS = (("averaged_n", "i4"), ("first_sweep", "i8"))  # /measurements columns of format 1.4


def sweep_blocks(pathway_of: np.ndarray, n: int, kind_of: np.ndarray | None = None) -> list[list[int]]:
    """Offline averaging (``rig analyze --average N``): blocks of ``n`` consecutive sweeps of each
    pathway and one sweep kind (``kind_of``, e.g. test / train: a block never mixes two; the last
    block of a run may be shorter), ordered by their first sweep; ``n`` ≤ 1: every sweep alone."""
    pw = np.asarray(pathway_of, dtype=np.int64)
    if n <= 1:
        return [[i] for i in range(pw.size)]
    kind = np.zeros(pw.size, dtype=np.int64) if kind_of is None else np.asarray(kind_of)
    out: list[list[int]] = []
    open_block: dict[int, list[int]] = {}
    for i in range(pw.size):
        b = open_block.get(int(pw[i]))
        if b is None or len(b) == n or kind[b[-1]] != kind[i]:
            b = open_block[int(pw[i])] = []
            out.append(b)
        b.append(i)
    return out


AUTO = "auto"  # the name of a windows change that applies a proposal (several windows at once)
