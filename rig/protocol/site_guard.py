"""Interleaving the sites of a multi-slice rig: start offsets that keep the guard interval.

Each site runs its own plan on the shared sample clock, started ``offset`` samples after the
board's sample 0. The offsets are chosen here, from the expanded plans, so that no stimulus of
one site comes within ``site_guard_s`` of a stimulus of another (pulse to pulse); ``rig check``
and ``rig run`` call the same function, so the offsets checked are the offsets used.

Offsets are whole multiples of :func:`offset_step` (a common multiple of the device block at
every speed), so a site sees the same block boundaries as a single-slice run of its plan.
The offsets are chosen on the planned timing (phases at their planned length); a gated baseline
that is extended, a held induction or an operator's ``induce-now`` moves a site's later stimuli
while running, and :mod:`rig.closed_loop.live_guard` places the moved stimuli again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rig.core.plan import Phase, Plan

MAX_SEARCH_S = 600.0  # offsets tried for a site: 0 … this


@dataclass(frozen=True)
class Interleave:
    """Start offset (samples on the shared clock) of each site, and what was checked."""

    names: tuple[str, ...]
    offsets: tuple[int, ...]
    guard_samples: int
    step_samples: int
    closest_s: float | None  # closest approach of two sites' pulses (None: fewer than two stimulated sites)
    gated: tuple[str, ...]  # sites whose timing the closed loop may move (kept at run time: live_guard)


def offset_step(sample_rate_hz: float, block_ms: float, max_speed_block_ms: float) -> int:
    """Offsets are multiples of this: every device block size (paced and at ``--speed max``) divides it."""
    paced = max(1, int(round(block_ms / 1000 * sample_rate_hz)))
    fast = max(paced, int(sample_rate_hz * max_speed_block_ms / 1000))
    return math.lcm(paced, fast)


def phase_intervals(plan: Plan, ph: Phase, r0: int, r1: int) -> list[tuple[int, int]]:
    """[start, end) of the stimuli of phase ``ph`` with onset in [r0, r1) (samples from the phase's
    start): its test pulses (as long as the phase runs) and its own stimuli."""
    pulse = plan.pulse_width_samples * (2 if plan.biphasic else 1)
    rows: list[tuple[int, int]] = []
    if ph.test is not None and r1 > r0:
        rows += [(rel, rel + pulse) for rel, _ in ph.test.pulse_times(max(0, r0), r1)]
    rows += [(s.sample, s.sample + s.last_pulse_end) for s in ph.stimuli if r0 <= s.sample < r1]
    return rows


def as_intervals(rows: list[tuple[int, int]]) -> np.ndarray:
    """Sorted, merged (n, 2) int64 intervals of ``rows``."""
    if not rows:
        return np.zeros((0, 2), dtype=np.int64)
    return _merge(np.array(sorted(rows), dtype=np.int64))


def stimulus_intervals(plan: Plan, first_phase: int = 0) -> np.ndarray:
    """[start, end) of every planned stimulus (first pulse onset to last pulse end), (n, 2) int64,
    sorted, in samples from the start of phase ``first_phase``; phases at their planned length."""
    rows: list[tuple[int, int]] = []
    t0 = 0
    for ph in plan.phases[first_phase:]:
        rows += [(t0 + a, t0 + b) for a, b in phase_intervals(plan, ph, 0, ph.duration_samples)]
        t0 += ph.duration_samples
    return as_intervals(rows)


def _merge(iv: np.ndarray) -> np.ndarray:
    """Union of sorted intervals (overlapping ones joined)."""
    if len(iv) < 2:
        return iv
    out = [list(iv[0])]
    for a, b in iv[1:]:
        if a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return np.array(out, dtype=np.int64)


def closest_approach(placed: np.ndarray, iv: np.ndarray) -> int | None:
    """Smallest gap (samples) between an interval of ``iv`` and one of ``placed`` (both sorted,
    each non-overlapping within itself); negative when they overlap; None if either is empty."""
    if len(placed) == 0 or len(iv) == 0:
        return None
    starts, ends = placed[:, 0], placed[:, 1]
    i = np.searchsorted(starts, iv[:, 0], side="right")  # placed[i-1] starts at or before iv
    gaps = []
    prev = i - 1
    ok = prev >= 0
    gaps.append((iv[ok, 0] - ends[prev[ok]]).min(initial=np.iinfo(np.int64).max))
    nxt = i < len(starts)
    gaps.append((starts[i[nxt]] - iv[nxt, 1]).min(initial=np.iinfo(np.int64).max))
    return int(min(gaps))


def feasible_steps(placed: np.ndarray, iv: np.ndarray, guard: int, step: int, max_m: int) -> np.ndarray:
    """Every m in [0, max_m] for which ``iv`` shifted by m·step keeps ``guard`` from ``placed``."""
    if len(placed) == 0 or len(iv) == 0:
        return np.arange(max_m + 1)
    # pair (i, u) forbids offsets in the open interval (u.start - guard - i.end, u.end + guard - i.start)
    lo = (placed[None, :, 0] - guard - iv[:, None, 1]).ravel()
    hi = (placed[None, :, 1] + guard - iv[:, None, 0]).ravel()
    m_lo = np.floor_divide(lo, step) + 1
    m_hi = -np.floor_divide(-hi, step) - 1
    keep = (m_hi >= 0) & (m_lo <= max_m) & (m_lo <= m_hi)
    m_lo, m_hi = np.clip(m_lo[keep], 0, max_m), np.clip(m_hi[keep], 0, max_m)
    mark = np.zeros(max_m + 2, dtype=np.int64)
    np.add.at(mark, m_lo, 1)
    np.add.at(mark, m_hi + 1, -1)
    return np.flatnonzero(np.cumsum(mark)[: max_m + 1] == 0)


def interleave(names: list[str], plans: list[Plan], guard_s: float, step: int,
               branch: int = 12, budget: int = 200) -> Interleave:
    """Offsets that keep every pair of sites ``guard_s`` apart: site by site, in order, small ones
    first, backtracking over the first offset of each of the first ``branch`` runs of feasible
    offsets (at most ``budget`` tries). Raises ValueError naming the site that cannot be placed
    within :data:`MAX_SEARCH_S`."""
    fs = float(plans[0].sample_rate_hz)
    guard = int(math.ceil(guard_s * fs))
    max_m = int(MAX_SEARCH_S * fs) // step
    ivs = [stimulus_intervals(p) for p in plans]
    worst = [0]  # deepest site reached (named in the error)
    tries = [0]

    def place(k: int, placed: np.ndarray, offsets: list[int]) -> list[int] | None:
        if k == len(ivs):
            return offsets
        worst[0] = max(worst[0], k)
        ok = feasible_steps(placed, ivs[k], guard, step, max_m)
        runs = ok[np.r_[True, np.diff(ok) > 1]] if len(ok) else ok  # first offset of each feasible run
        for m in runs[:branch]:
            tries[0] += 1
            if tries[0] > budget:
                return None
            o = int(m) * step
            both = np.concatenate([placed, ivs[k] + o])
            found = place(k + 1, _merge(both[np.argsort(both[:, 0], kind="stable")]), [*offsets, o])
            if found is not None:
                return found
        return None

    offsets = place(0, np.zeros((0, 2), dtype=np.int64), [])
    if offsets is None:
        raise ValueError(f"site {names[worst[0]]!r}: no start offset up to {MAX_SEARCH_S:g} s keeps its stimuli "
                         f"site_guard_s = {guard_s:g} s away from the other sites' (shorten the guard, "
                         "or give the sites protocols whose stimuli can interleave)")
    closest: int | None = None
    for i in range(len(ivs)):
        for j in range(i + 1, len(ivs)):
            gap = closest_approach(ivs[i] + offsets[i], ivs[j] + offsets[j])
            if gap is not None:
                closest = gap if closest is None else min(closest, gap)
    gated = tuple(n for n, p in zip(names, plans, strict=True) if any(ph.gated for ph in p.phases))
    return Interleave(tuple(names), tuple(offsets), guard, step,
                      None if closest is None else closest / fs, gated)


def guard_violation(plans: list[Plan], offsets: list[int], guard_samples: int) -> tuple[int, int, int] | None:
    """First pair of sites (i, j) closer than the guard with the given offsets, and their gap
    (samples); None when the guard holds."""
    ivs = [stimulus_intervals(p) + o for p, o in zip(plans, offsets, strict=True)]
    for i in range(len(ivs)):
        for j in range(i + 1, len(ivs)):
            gap = closest_approach(ivs[i], ivs[j])
            if gap is not None and gap < guard_samples:
                return i, j, gap
    return None
