"""Auto windows: the controller applies the windows placed from the first baseline sweeps of each
pathway before the baseline counts (protocol ``[analysis] auto_windows``, default off).

The engine proposes windows per pathway from the average of its first ``settle_sweeps`` baseline test
sweeps (:mod:`rig.detector.online`). Once every tested pathway of the phase has a proposal:

- all confident (:func:`applicable`) → one change of the set-windows path (``rig ctl set_windows`` and the
  window use
  the same path), applied by the engine as one ``windows`` event (source ``auto``). The engine measures
  every pathway with one window set, so the pathways' slope windows are intersected (start = latest
  start, end = earliest end); volley, peak and pop-spike windows are widened to cover every pathway.
  The stability gate and intensity tracking restart, and the result's baseline uses only sweeps after this change
  (:mod:`rig.analysis.results`), so one baseline never mixes two window sets;
- any proposal not confident, the intersection too short, the baseline over or an induction already
  given → a ``windows_uncertain`` event and the windows in use stay.

Windows that differ from the detector defaults when the proposal arrives (set in the protocol's
``[analysis] windows``, by ``--window`` or by the operator) are never replaced.
"""

from __future__ import annotations

from rig.core import events as ev
from rig.detector.measurement import WINDOW_NAMES, Windows
from rig.detector.online import AUTO
from rig.detector.proposal import AutoWindows

MIN_SLOPE_MS = 0.4  # shortest common slope window (ms), as the placement rule's minimum
# Online the windows serve hundreds of sweeps: a proposal whose landmarks are placed with confidence
# is applied even when the slope of the few averaged sweeps is still noisy, up to this relative SD.
MAX_ONLINE_SD_PERCENT = 15.0


def applicable(prop: AutoWindows) -> bool:
    """Confident enough to apply online: placed with confidence (``ok``), or only the statistical
    SD of the average's slope (not the landmarks) in doubt and ≤ :data:`MAX_ONLINE_SD_PERCENT`."""
    if prop.ok:
        return True
    sd = prop.landmarks_ms.get("slope_sd_percent")
    return (prop.confidence.get("slope_placement", 0.0) >= 0.5 and sd is not None
            and sd <= MAX_ONLINE_SD_PERCENT)


def combine(props: dict[int, AutoWindows]) -> tuple[dict[str, tuple[float, float]], str]:
    """One window set for every pathway: (windows, "") or ({}, why not)."""
    ws = [p.windows for p in props.values()]
    s0, s1 = max(w.slope[0] for w in ws), min(w.slope[1] for w in ws)
    if s1 - s0 < MIN_SLOPE_MS:
        spans = "; ".join(f"S{pw + 1} {p.windows.slope[0]:.2f}–{p.windows.slope[1]:.2f} ms" for pw, p in props.items())
        return {}, f"the pathways' slope windows do not overlap by {MIN_SLOPE_MS} ms ({spans})"
    art = max(w.artifact[1] for w in ws)
    peak_end = max(w.peak[1] for w in ws)
    out = {
        "artifact": (0.0, art),
        "volley": (art, max(max(w.volley[1] for w in ws), art + 0.1)),
        "slope": (s0, s1),
        "peak": (s0, peak_end),
        "pop_spike": (s0, max(w.pop_spike[1] for w in ws)),
        "baseline": (max(w.baseline[0] for w in ws), min(w.baseline[1] for w in ws)),
    }
    return out, ""


class AutoWindowsMixin:
    """The controller's part (mixed into :class:`rig.closed_loop.controller.Controller`)."""

    def _auto_state(self) -> dict:
        st = self.__dict__.get("_auto")
        if st is None:
            an = (self.plan.closed_loop or {}).get("analysis", {})
            st = {"on": bool(an.get("auto_windows", False)), "props": {}, "done": False}
            self.__dict__["_auto"] = st
        return st

    def on_windows_proposed(self, pathway: int, prop: AutoWindows, in_use: Windows, sample: int) -> list:
        """Engine hook: a pathway's proposal. Returns the documents (a ``windows_uncertain`` warning);
        a confident set is queued on the set-windows path (``windows_changes``)."""
        st = self._auto_state()
        if not st["on"] or st["done"]:
            return []
        name = self.name(pathway)
        p = self.phase
        if p.kind != "baseline" or self.induced:
            st["done"] = True
            return [ev.WindowsUncertain(sample=sample, pathway=pathway,
                                        text=f"{name}: windows proposed too late (not in a baseline before "
                                             "the induction); the windows in use stay")]
        if not applicable(prop):
            st["done"] = True
            return [ev.WindowsUncertain(sample=sample, pathway=pathway,
                                        text=f"{name}: {prop.message or 'windows uncertain'}; the windows in use stay")]
        st["props"][pathway] = prop
        wanted = set(p.test.pathways) if p.test is not None else {pathway}
        if not wanted <= set(st["props"]):
            return []
        st["done"] = True
        combined, why = combine({pw: st["props"][pw] for pw in sorted(wanted)})
        if not combined:
            return [ev.WindowsUncertain(sample=sample, text=f"{why}; the windows in use stay")]
        default = Windows()
        pinned = {n for n in WINDOW_NAMES if getattr(in_use, n) != getattr(default, n)}
        if in_use.baseline[0] >= combined["baseline"][0]:
            pinned.add("baseline")  # the default baseline fits the sweep: keep it
        changes = {n: v for n, v in combined.items() if n not in pinned and getattr(in_use, n) != v}
        if not changes:
            return []
        self.windows_changes.extend((n, (float(v[0]), float(v[1])), AUTO) for n, v in changes.items())
        self._tests = {}  # the stability gate restarts with the new windows ...
        for pw in wanted:
            self.tracker.restart(pw)  # ... and intensity tracking re-learns its target slope
        return []
