"""Auto windows: the controller applies the windows placed from the first baseline sweeps of each
pathway before the baseline counts (protocol ``[analysis] auto_windows``, default on).

The engine proposes windows per pathway from the average of its first ``settle_sweeps`` baseline test
sweeps (:mod:`rig.detector.online`). Each pathway has its own windows (:class:`rig.detector.windows.
PathwayWindows`), so each proposal is decided alone:

- confident (:func:`applicable`) → one change of the set-windows path for that pathway (``rig ctl
  set-windows`` and the window use the same path), applied by the engine as one ``windows`` event
  (source ``auto``, its ``pathway``) and one analysis version. That pathway's stability gate and
  intensity tracking restart, and its result's baseline uses only its sweeps after the change
  (:mod:`rig.analysis.results`), so one pathway's baseline never mixes two window sets;
- not confident, the baseline over or an induction already given → a ``windows_uncertain`` event
  and that pathway's windows stay.

Windows that differ from the detector defaults when the proposal arrives (set in the protocol's
``[analysis] windows``, by ``--window`` or by the operator) are never replaced.
"""

from __future__ import annotations

from rig.core import events as ev
from rig.core.plan import AUTO_WINDOWS_DEFAULT
from rig.detector.measurement import WINDOW_NAMES, Windows
from rig.detector.online import AUTO
from rig.detector.proposal import AutoWindows

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


def proposed_changes(proposed: Windows, in_use: Windows) -> dict[str, tuple[float, float]]:
    """The windows of a pathway's proposal that replace those in use: every placed window except one
    that differs from the detector default (set in the protocol, by ``--window`` or by the operator:
    never replaced) and the baseline when the default one fits the sweep."""
    default = Windows()
    pinned = {n for n in WINDOW_NAMES if getattr(in_use, n) != getattr(default, n)}
    if in_use.baseline[0] >= proposed.baseline[0]:
        pinned.add("baseline")  # the default baseline fits the sweep: keep it
    order = ("artifact", "volley", "slope", "peak", "pop_spike", "baseline")  # each step a valid set
    return {n: getattr(proposed, n) for n in order if n not in pinned and getattr(in_use, n) != getattr(proposed, n)}


class AutoWindowsMixin:
    """The controller's part (mixed into :class:`rig.closed_loop.controller.Controller`)."""

    def _auto_state(self) -> dict:
        st = self.__dict__.get("_auto")
        if st is None:
            an = (self.plan.closed_loop or {}).get("analysis", {})
            st = {"on": bool(an.get("auto_windows", AUTO_WINDOWS_DEFAULT)), "done": set()}
            self.__dict__["_auto"] = st
        return st

    def on_windows_proposed(self, pathway: int, prop: AutoWindows, in_use: Windows, sample: int) -> list:
        """Engine hook: a pathway's proposal (``in_use``: that pathway's windows). Returns the documents
        (a ``windows_uncertain`` warning); a confident proposal is queued on the set-windows path
        (``windows_changes``) for this pathway alone."""
        st = self._auto_state()
        if not st["on"] or pathway in st["done"]:
            return []
        st["done"].add(pathway)
        name = self.name(pathway)
        p = self.phase
        if p.kind != "baseline" or self.induced:
            return [ev.WindowsUncertain(sample=sample, pathway=pathway,
                                        text=f"{name}: windows proposed too late (not in a baseline before "
                                             "the induction); the windows in use stay")]
        if not applicable(prop):
            return [ev.WindowsUncertain(sample=sample, pathway=pathway,
                                        text=f"{name}: {prop.message or 'windows uncertain'}; the windows in use stay")]
        changes = proposed_changes(prop.windows, in_use)
        if not changes:
            return []
        self.windows_changes.extend((n, (float(v[0]), float(v[1])), AUTO, pathway) for n, v in changes.items())
        self._tests.pop(pathway, None)  # the stability gate restarts for this pathway with its new windows ...
        self.tracker.restart(pathway)  # ... and intensity tracking re-learns its target slope
        return []
