"""kill -9 the recorder at random moments: every file opens and keeps every reported sweep, bit for bit.

The default suite kills 10 recorders (RIG_CRASH_KILLS=N for more); the long campaign is
``python tests/crash_campaign.py --kills 40``.
"""

from __future__ import annotations

import os
from dataclasses import asdict

from tests.crash_campaign import campaign


def test_kill9_at_random_moments_loses_no_reported_sweep(tmp_path):
    kills = int(os.environ.get("RIG_CRASH_KILLS", "10"))
    t = campaign(tmp_path, kills, parallel=2, rng_seed=int(os.environ.get("RIG_CRASH_SEED", "1")))
    print(asdict(t))
    assert t.failures == []
    assert t.kills == kills
    assert t.opened_directly + t.opened_after_recover + t.no_file == kills
    assert t.unreadable == 0
    # the campaign must actually have hit recordings in progress, with sweeps to check
    assert t.kills_with_sweeps >= kills // 2
    assert t.sweeps_checked >= t.sweeps_reported > 0
