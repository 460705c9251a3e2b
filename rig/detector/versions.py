"""Analysis versions of a running recording: every change of the windows starts a new version.

The raw samples are the truth; measurements are an analysis of them. The engine keeps the field
channel of every sweep it recorded (int16 counts, ~4 kB per 100 ms test sweep at 20 kHz) and, when
the windows change (a window drag, ``rig ctl set-windows``, the window's Re-analyse, windows applied
from a proposal), :meth:`AnalysisVersions.apply` opens version *k + 1* — one per pathway changed
(each pathway has its own windows, :class:`~rig.detector.windows.PathwayWindows`; a Re-analyse, which
sends every pathway's windows and each pathway's own, is one version of every pathway): every kept sweep of
that pathway (of every pathway for a change without one) measured again with its new windows
(``Measured(remeasure=True, analysis=k + 1)``), then one
:class:`~rig.core.events.AnalysisVersion` event (written last: a version whose event is in the
file has all its rows), so the time course of the new version is
measured with one set of windows from its first sweep. Sweeps recorded afterwards carry the new
version. Storage writes every version's rows (``/measurements.analysis``); nothing is overwritten.

Averaged blocks (``[analysis] average = N``, :class:`~rig.detector.online.OnlineSweeps`) are
re-measured too: each block of a changed pathway whose sweeps are all kept is averaged again from
their samples and measured with the new windows (``Measured`` with ``averaged_n``, ``remeasure=True``;
its flags include the re-measured sweeps' flags), so the averaged rows of the newest version are
consistent with its windows; readers take, per block, the newest version's row
(:func:`rig.storage.analyses.averaged_rows_of`). The event's ``extra.averaged_remeasured`` counts them.

Sweeps beyond :data:`KEEP_BUDGET_SAMPLES` in total are not kept (long induction trains go first):
the event's ``remeasured`` says how many sweeps the new version re-measured, ``not_kept`` how many
it could not (their rows stay those of the earlier version; ``rig analyze --save`` re-measures
every sweep from the file).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rig.core import events as ev
from rig.core.documents import Measured, Sweep
from rig.detector.measurement import PathwayWindows, Windows, measure, measure_pulses
from rig.detector.online import OnlineSweeps, averaged_records

KEEP_BUDGET_SAMPLES = 64_000_000  # int16: 128 MB; a 4 h two-pathway recording of test sweeps is ~10 MB
LONG_SWEEP_SAMPLES = 200_000  # a sweep longer than this (an induction train) is dropped first
EVENT_DATA_BYTES = 1000  # a stored event's JSON data holds 1024 bytes


@dataclass(frozen=True)
class _Kept:
    index: int
    pathway: int
    phase: int
    sample: int
    kind: str
    counts: np.ndarray  # field channel, int16
    mV_per_count: float
    pulses: np.ndarray  # pulse onsets relative to the sweep's first sample


class AnalysisVersions:
    """The versions of one run and the sweeps they can be re-measured from."""

    def __init__(self, fs_hz: float, budget_samples: int = KEEP_BUDGET_SAMPLES,
                 online: OnlineSweeps | None = None) -> None:
        self.fs = float(fs_hz)
        self.online = online  # its averaged blocks are re-measured with each version
        self.version = 0
        self.budget = int(budget_samples)
        self._kept: list[_Kept] = []
        self._n = 0
        self.not_kept = 0
        self.last_remeasured: list[tuple[str, Measured]] = []  # of the latest version (for the controller)

    def keep(self, sweep: Sweep, counts: np.ndarray, mV_per_count: float, pulses_rel: np.ndarray) -> None:
        """Keep a recorded sweep's field samples (``counts``, int16; pulse indices in them)."""
        c = np.array(counts, dtype=np.int16)
        if self._n + c.size > self.budget:
            if c.size > LONG_SWEEP_SAMPLES:
                self.not_kept += 1
                return
            long = [k for k in self._kept if k.counts.size > LONG_SWEEP_SAMPLES]
            while long and self._n + c.size > self.budget:
                k = long.pop(0)
                self._kept.remove(k)
                self._n -= k.counts.size
                self.not_kept += 1
            if self._n + c.size > self.budget:
                self.not_kept += 1
                return
        self._kept.append(_Kept(sweep.index, sweep.pathway, sweep.phase, sweep.stim_sample, sweep.kind, c,
                                float(mV_per_count),
                                np.asarray(pulses_rel, dtype=np.int64)))
        self._n += c.size

    @property
    def kept_sweeps(self) -> int:
        return len(self._kept)

    def remeasure(self, windows: PathwayWindows, pathways: set[int] | None = None) -> list[tuple[str, Measured]]:
        """Every kept sweep (of ``pathways``; None: all) measured with its pathway's windows: (sweep
        kind, Measured of the current version)."""
        out = []
        for k in self._kept:
            if pathways is not None and k.pathway not in pathways:
                continue
            rec = _measure(k.counts, k.mV_per_count, k.pulses, self.fs, windows.of(k.pathway))
            out.append((k.kind, Measured(k.index, k.pathway, k.phase, k.sample, rec, analysis=self.version,
                                         remeasure=True)))
        return out

    def remeasure_blocks(self, windows: PathwayWindows, again: list[tuple[str, Measured]],
                         pathways: set[int] | None = None) -> tuple[list[Measured], int]:
        """Every averaged block (of ``pathways``; None: all) whose sweeps are all kept, averaged again and
        measured with its pathway's windows (flags: those of the re-measured sweeps ``again`` too):
        the averaged rows of the current version and how many blocks could not be (sweeps not kept)."""
        if self.online is None or not self.online.blocks:
            return [], 0
        kept = {k.index: k for k in self._kept}
        flags = {m.sweep_index: int(m.records["flags"][0]) for _, m in again if len(m.records)}
        out, missing = [], 0
        for b in self.online.blocks:
            if pathways is not None and b.pathway not in pathways:
                continue
            ks = [kept.get(i) for i in b.sweeps]
            if any(k is None or not k.pulses.size or k.counts.size != ks[0].counts.size for k in ks):
                missing += 1
                continue
            trace = np.mean(np.stack([k.counts.astype(np.float64) * k.mV_per_count for k in ks]), axis=0)
            rec = measure(trace, int(ks[-1].pulses[0]), self.fs, windows.of(b.pathway),
                          32767 * ks[-1].mV_per_count * 0.999)
            for i in b.sweeps:
                rec["flags"] |= np.uint32(flags.get(i, 0))
            out.append(Measured(b.sweeps[-1], b.pathway, b.phase, b.sample,
                                averaged_records(rec, len(b.sweeps), b.sweeps[0]), analysis=self.version,
                                remeasure=True))
        return out, missing

    def change(self, windows: PathwayWindows | Windows, sample: int, source: str, next_sweep: int,
               method: str = "regression", pathway: int | None = None
               ) -> tuple[ev.AnalysisVersion, list[tuple[str, Measured]], list[Measured]]:
        """Open the next version (windows in use from ``sample``, online from sweep ``next_sweep``;
        ``pathway``: the pathway whose windows changed, whose kept sweeps and averaged blocks are
        re-measured — None: every pathway): its event, the re-measured sweeps and averaged rows."""
        windows = PathwayWindows.of_any(windows)
        self.version += 1
        who = None if pathway is None else {pathway}
        again = self.remeasure(windows, who)
        blocks, missing = self.remeasure_blocks(windows, again, who)
        extra = {"not_kept": self.not_kept} if self.not_kept else {}
        said = f"{len(again)} recorded sweeps re-measured" + (f", {self.not_kept} not kept" if self.not_kept else "")
        if blocks or missing:
            extra.update(averaged_remeasured=len(blocks), **({"averaged_not_kept": missing} if missing else {}))
            said += f", {len(blocks)} averaged blocks" + (f" ({missing} not kept)" if missing else "")
        e = version_event(self.version, source, method, windows, pathway, sample, len(again), int(next_sweep),
                          f"analysis version {self.version} ({source}{'' if pathway is None else f' S{pathway + 1}'}): "
                          + said, extra)
        return e, again, blocks

    def tag(self, m: Measured) -> Measured:
        """An online measurement of the current version."""
        return replace(m, analysis=self.version) if m.analysis != self.version else m

    def apply(self, changes: list, windows: PathwayWindows | Windows, sample: int, next_sweep: int,
              undecided: list[tuple[int, np.ndarray, float, np.ndarray]] = (),
              controller: object = None) -> tuple[PathwayWindows, list, list]:
        """Apply window changes ``(name, (start, end) ms, source[, pathway])`` at ``sample``: one
        version per pathway changed (pathway None or absent: every pathway).

        Returns the windows now in use, the documents (``windows`` / ``windows_refused`` events,
        then each version's event after its re-measured sweeps; none when every change was refused)
        and the records of ``undecided`` sweeps (measured but not yet stored: (pathway, field counts,
        mV per count, pulse indices)) measured with the new windows. A ``controller`` with
        ``on_remeasured(list of (kind, Measured))`` gets the re-measured sweeps (its closed-loop
        state follows the version) and may answer with documents."""
        windows = PathwayWindows.of_any(windows)
        docs: list = []
        groups: dict[int | None, list] = {}
        for ch in changes:  # one analysis version per pathway changed (one per Re-analyse), in the order first asked
            re = len(ch) > 2 and ch[2] == "reanalyse"  # every pathway's windows drawn, then each one's own
            groups.setdefault("reanalyse" if re else ch[3] if len(ch) > 3 else None, []).append(ch)
        self.last_remeasured = []
        for key, group in groups.items():
            pathway = None if key == "reanalyse" else key
            windows = self._apply_one(group, windows, pathway, sample, next_sweep, docs, controller)
        return windows, docs, [_measure(c, s, p, self.fs, windows.of(pw)) for pw, c, s, p in undecided]

    def _apply_one(self, changes: list, windows: PathwayWindows, pathway: int | None, sample: int,
                   next_sweep: int, docs: list, controller: object) -> PathwayWindows:
        source, applied, said = "set_windows", False, []
        who = "" if pathway is None else f"S{pathway + 1} "
        for ch in changes:
            name, ms = ch[0], (float(ch[1][0]), float(ch[1][1]))
            source = str(ch[2]) if len(ch) > 2 else source
            pw = ch[3] if len(ch) > 3 else None  # a Re-analyse's group holds every pathway's and each one's own
            if name is None:  # a new version with the windows in use (the window's Re-analyse)
                continue
            mine = "" if pw is None else f"S{pw + 1} "
            try:
                windows = windows.replace(pw, **{name: ms})
            except (TypeError, ValueError) as exc:
                docs.append(ev.WindowsRefused(sample=sample, text=f"{mine}{exc}"[:200], window=str(name)))
                continue
            applied = True
            said.append(f"{name} {ms[0]:g}–{ms[1]:g}")
            if source != "auto":  # an auto proposal is one event for the whole set
                docs.append(ev.WindowsChanged(sample=sample, text=f"{mine}{name} window {ms[0]:g}–{ms[1]:g} ms",
                                              windows=_of(windows, pw), source="operator", pathway=pw))
        if applied and source == "auto":
            text = f"{who}windows from landmarks: {', '.join(said)} ms"[:250]
            docs.append(ev.WindowsChanged(sample=sample, text=text, windows=_of(windows, pathway), source="auto",
                                          pathway=pathway))
        if not applied and source != "reanalyse":
            return windows
        e, again, blocks = self.change(windows, sample, source, next_sweep, pathway=pathway)
        docs.extend(m for _, m in again)
        docs.extend(blocks)  # the averaged rows of the version (not for the controller: single sweeps)
        docs.append(e)  # after its rows: a version whose event is in the file is complete
        self.last_remeasured = again
        hook = getattr(controller, "on_remeasured", None)
        if hook is not None:
            docs.extend(hook(again))
        return windows


def _of(windows: PathwayWindows, pathway: int | None) -> dict:
    return (windows.default if pathway is None else windows.of(pathway)).to_dict()


def version_event(version: int, source: str, method: str, windows: PathwayWindows, pathway: int | None,
                  sample: int, remeasured: int, first_sweep: int, text: str, extra: dict) -> ev.AnalysisVersion:
    """The ``analysis`` event of a version (online and ``rig analyze --save``): the default windows
    and each pathway's own; when that does not fit a stored event (≥ 4 pathways with their own
    windows), only the changed pathway's own (``extra.pathway_windows_incomplete``, said in the text:
    readers carry the others over from the version before, :func:`rig.storage.analyses.versions`)."""
    per = windows.pathway_dict()
    kw = dict(sample=int(sample), version=version, source=source, method=method, windows=windows.to_dict(),
              remeasured=int(remeasured), first_sweep=int(first_sweep), pathway=pathway)
    e = ev.AnalysisVersion(text=text, pathway_windows=per, extra=extra, **kw)
    if len(ev.to_stored(e)[3].encode()) > EVENT_DATA_BYTES and len(per) > 1:
        mine = {} if pathway is None else {str(pathway): per.get(str(pathway), {})}  # {}: back to the default
        e = ev.AnalysisVersion(text=(text + "; the other pathways' own windows are in earlier versions")[:250],
                               pathway_windows=mine, extra={**extra, "pathway_windows_incomplete": True}, **kw)
    return e


def _measure(counts: np.ndarray, mV_per_count: float, pulses: np.ndarray, fs: float, windows: Windows) -> np.ndarray:
    """The detector's records of one sweep's field counts (clipped samples as the engine flags them)."""
    trace = np.asarray(counts).astype(np.float64) * mV_per_count
    return measure_pulses(trace, np.asarray(pulses, dtype=np.int64), fs, windows, 32767 * mV_per_count * 0.999)
