"""Sites as data: [[site]] entries, the single-slice rig of a site, and the guard offsets."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from rig.core.plan import Phase, Plan, Stimulus
from rig.core.plan import TestSchedule as Sched
from rig.protocol.problems import InvalidFile
from rig.protocol.rigfile import parse_rig
from rig.protocol.site_guard import closest_approach, guard_violation, interleave, offset_step, stimulus_intervals
from rig.protocol.sites import site_rig, site_rig_data, to_toml
from tests.sites_helpers import sites_rig_toml

FS = 20000.0


def plan(interval_s: float, minutes: float = 2.0, train_at_s: float | None = None) -> Plan:
    n = int(minutes * 60 * FS)
    phases = [Phase("base", "baseline", n, test=Sched(int(interval_s * FS), (0,), first_offset=0))]
    if train_at_s is not None:
        train = Stimulus(int(train_at_s * FS), 0, "train", tuple(range(0, 40 * 200, 200)))
        phases.append(Phase("ind", "induction", int(5 * FS), stimuli=(train,)))
    return Plan("p", FS, tuple(phases))


def test_offsets_keep_every_pair_of_sites_a_guard_apart():
    plans = [plan(5.0, train_at_s=1.0), plan(5.0), plan(10.0)]
    step = offset_step(FS, 50.0, 100.0)
    assert step == 2000  # 0.1 s: a whole number of 50 ms and 100 ms blocks
    il = interleave(["A", "B", "C"], plans, 1.0, step)
    assert il.offsets[0] == 0 and all(o % step == 0 for o in il.offsets)
    assert guard_violation(plans, list(il.offsets), il.guard_samples) is None
    assert il.closest_s >= 1.0
    # the same plans without offsets collide
    assert guard_violation(plans, [0, 0, 0], il.guard_samples) is not None


def test_no_room_is_a_clear_error():
    dense = plan(1.0, minutes=12.0)  # 12 min of a pulse every second leaves no 1 s gap
    with pytest.raises(ValueError, match="site 'B': no start offset"):
        interleave(["A", "B"], [dense, plan(20.0)], 1.0, 2000)


def test_intervals_cover_the_whole_train():
    iv = stimulus_intervals(plan(60.0, minutes=1.0, train_at_s=1.0))
    assert iv.shape == (2, 2)
    t0 = int(60 * FS)  # the induction phase starts after the baseline
    assert iv[1, 0] == t0 + int(FS) and iv[1, 1] == t0 + int(FS) + 39 * 200 + 2
    assert closest_approach(iv, np.array([[iv[1, 1] + 5, iv[1, 1] + 7]])) == 5


def test_a_site_is_a_single_slice_rig():
    rig = parse_rig(sites_rig_toml(2), "r.toml")
    data = site_rig_data(rig, "B")
    assert [s["pathway"] for s in data["stim"]] == ["S1", "S2"]  # the names its protocols use
    assert [s["ao"] for s in data["stim"]] == ["ao1", "ao2"] and [a["channel"] for a in data["ai"]] == ["ai1"]
    assert data["sim"]["seed_offset"] == 1
    text = to_toml(data)
    again = parse_rig(text, "site.toml")  # the text stored in the site's file is a valid rig file
    assert again == site_rig(rig, "B") and tomllib.loads(text)["stim"][1]["ao"] == "ao2"
    assert "site" not in tomllib.loads(text)


@pytest.mark.parametrize("change, said", [
    (('name = "B"', 'name = "A"'), "site name used twice: A"),
    (('ai = "field_B"', 'ai = "field_Z"'), "ai = 'field_Z' must name a field [[ai]]"),
    (('stim = ["B1", "B2"]', 'stim = ["B1"]'), "stim B2: belongs to no [[site]]"),
    (('stim = ["B1", "B2"]', 'stim = ["B1", "B2"]\npathways = ["S1"]'), "pathways has 1 names for 2"),
    (("site_guard_s = 1.0", "site_guard_s = -1.0"), "site_guard_s"),
])
def test_bad_sites_are_refused_naming_the_key(change, said):
    text = sites_rig_toml(2).replace(*change)
    with pytest.raises(InvalidFile) as exc:
        parse_rig(text, "r.toml")
    assert said in "\n".join(exc.value.lines())
