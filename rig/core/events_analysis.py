"""Events of the measurement: detector windows, their proposals, analysis versions, averaged sweeps.

Part of the one vocabulary (:mod:`rig.core.events` registers and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rig.core.event_base import Event


@dataclass(frozen=True, kw_only=True)
class WindowsChanged(Event):
    """Detector windows in use from ``sample`` on: ``windows`` = ``Windows.to_dict()`` (ms) of
    ``pathway`` (None: of every pathway)."""

    KIND: ClassVar[str] = "windows"
    windows: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # "operator" or "auto" (a proposal applied before the baseline counts)
    pathway: int | None = None


@dataclass(frozen=True, kw_only=True)
class AnalysisVersion(Event):
    """A new analysis version: measurements from ``windows`` (ms) and slope ``method``, made by ``source``
    (window_change, reanalyse, set_windows, rig analyze); rows of ``/measurements`` carry its
    ``version``; ``remeasured`` earlier sweeps were measured again from the raw samples, sweeps from
    ``first_sweep`` on are measured online with it (−1: an offline version). ``windows`` is the
    default set, ``pathway_windows`` the pathways with their own (pathway index → the entries that
    differ); ``pathway``: the pathway whose windows changed (None: every pathway)."""

    KIND: ClassVar[str] = "analysis"
    version: int = 0
    source: str = ""
    method: str = "regression"
    windows: dict[str, Any] = field(default_factory=dict)
    remeasured: int = 0
    first_sweep: int = -1
    pathway: int | None = None
    pathway_windows: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class WindowsRefused(Event):
    """A detector window change that the detector refused (``text`` says why)."""

    KIND: ClassVar[str] = "windows_refused"
    window: str = ""


@dataclass(frozen=True, kw_only=True)
class WindowsProposed(Event):
    """Windows placed from the landmarks of the average of the first ``sweeps`` baseline sweeps
    (``confidence`` of the slope window); applied by the controller when ``ok`` and auto windows are on."""

    KIND: ClassVar[str] = "windows_proposed"
    pathway: int = 0
    ok: bool = False
    windows: dict[str, Any] = field(default_factory=dict)
    landmarks_ms: dict[str, Any] = field(default_factory=dict)
    sweeps: int = 0
    confidence: float | None = None


@dataclass(frozen=True, kw_only=True)
class WindowsUncertain(Event):
    """A window proposal not applied (low confidence, pathways disagree): the windows in use stay."""

    KIND: ClassVar[str] = "windows_uncertain"
    pathway: int | None = None


@dataclass(frozen=True, kw_only=True)
class AverageMeasured(Event):
    """The average of ``sweeps`` consecutive test sweeps of a pathway (indices ``first_sweep`` …
    ``last_sweep``) measured: ``values`` = measurement fields (mV, ms, mV/ms) and ``flags``."""

    KIND: ClassVar[str] = "average_measured"
    pathway: int = 0
    first_sweep: int = 0
    last_sweep: int = 0
    sweeps: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    flags: int = 0
