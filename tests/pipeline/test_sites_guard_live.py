"""The guard between sites kept at run time (issue 19): operator commands that move a site's
stimuli (induce_now, extend_baseline, the resume of a held induction) are placed so that no pulse
comes within site_guard_s of another site's — a moment later when needed, refused with the reason
when no start within 60 s keeps it. Real multi-site runs at --speed max (run_sites, as rig run)."""

from __future__ import annotations

import math

import pytest

from rig.closed_loop.controller import Controller
from rig.closed_loop.live_guard import MAX_DELAY_S, Placement
from rig.core.commands import Command
from tests.conftest import baseline_toml, tbs_toml
from tests.sites_helpers import board_pulses, closest_between_sites, events_of, run_scripted

A = tbs_toml(base_min=1.0, follow_min=0.5, interval_s=5.0)  # TBS: 10 bursts 200 ms apart, one 2 s train
B = baseline_toml(3.0, 5.0)  # test pulses every 5 s: a 2 s train fits in 1 s of every 5 s with a 1 s guard


def _check(res, site: str = "A"):
    assert [o.reason for o in res.sites] == ["completed", "completed"]
    assert closest_between_sites(board_pulses(res.index)) >= 1.0  # the guard held all run long
    path = next(o.path for o in res.sites if o.name == site)
    return path


def test_induce_now_is_placed_a_moment_later_when_another_site_stimulates(tmp_path):
    res = run_scripted(tmp_path, {"A": A, "B": B}, {"A": [(30.0, Command("induce_now", source="test"))]})
    path = _check(res)
    (op,) = [e for e in events_of(path, "operator") if "induce_now" in e[2]]
    assert "baseline ends 3.68 s later: keeps site_guard_s = 1 s from the other sites' stimuli" in op[2]
    (ind,) = events_of(path, "induction")
    assert ind[0] == pytest.approx(op[0] + 3.68 + 0.2, abs=0.1)  # effective at the horizon, + the delay


def test_extend_baseline_ends_a_little_later_when_its_end_would_hit_another_site(tmp_path):
    res = run_scripted(tmp_path, {"A": A, "B": B},
                       {"A": [(20.0, Command("extend_baseline", data={"seconds": 31.0}, source="test"))]})
    path = _check(res)
    (op,) = events_of(path, "operator")
    assert "baseline extended by 31 s, its end 2.98 s later: keeps site_guard_s" in op[2]
    assert events_of(path, "induction")[0][0] == pytest.approx(60.0 + 31.0 + 2.98, abs=0.05)


def test_a_held_induction_resumes_when_it_keeps_the_guard(tmp_path):
    res = run_scripted(tmp_path, {"A": A, "B": B}, {"A": [(58.0, Command("pause", source="test")),
                                                          (67.0, Command("resume", source="test"))]})
    path = _check(res)
    kinds = [e[1] for e in events_of(path, "induction_held", "site_guard", "induction")]
    assert kinds == ["induction_held", "site_guard", "induction"]
    (guard,) = events_of(path, "site_guard")
    assert "TBS resumes 1.68 s later: keeps site_guard_s = 1 s" in guard[2]


def test_a_command_no_start_can_place_is_refused_with_the_reason(tmp_path):
    """B's second baseline tests every 3 s: A's 2 s train never fits with 1 s on each side, and that
    phase lasts 2 min: induce_now inside it is refused; A induces at its planned time."""
    dense = baseline_toml(2.0, 6.0) + '\n[[phases]]\nkind = "baseline"\nname = "dense"\nduration_min = 2.0\n' \
                                      'interval_s = 3.0\n'
    res = run_scripted(tmp_path, {"A": tbs_toml(base_min=5.0, follow_min=0.5, interval_s=6.0), "B": dense},
                       {"A": [(150.0, Command("induce_now", source="test"))]})
    path = _check(res)
    (op,) = events_of(path, "operator")
    assert "refused: no start within 60 s keeps site_guard_s = 1 s from site B's stimuli" in op[2]
    assert events_of(path, "induction")[0][0] == pytest.approx(300.0, abs=0.1)  # as planned


class Refusing:
    """A guard seat that finds no start (the board is full)."""

    guard_s = 1.0

    def place(self, base, shifted, current, commit=True):
        return Placement(None, "B", -20)

    def register(self, future):
        pass


def test_the_refusal_is_the_operator_event_and_rig_ctl_status_shows_it():
    from rig.protocol.load import expand, parse_protocol
    from rig.protocol.rigfile import load_rig

    rig, _ = load_rig(None)
    plan = expand(parse_protocol(tbs_toml(base_min=1.0, follow_min=0.5), "p"), rig, "p")
    ctl = Controller(plan)
    ctl.guard = Refusing()
    ctl.schedule(20_000)
    docs = ctl.handle_command(Command("induce_now", source="ctl"))
    assert not docs[0].accepted and "refused: no start within" in docs[0].text
    assert "(they would overlap)" in docs[0].text
    assert ctl.status["last_command"]["accepted"] is False and "site B" in ctl.status["last_command"]["note"]
    assert ctl.phase_end == plan.phases[0].duration_samples  # nothing moved
    docs = ctl.handle_command(Command("pause", source="ctl"))  # a pause moves nothing: never refused
    assert docs[0].accepted and math.isfinite(MAX_DELAY_S)
