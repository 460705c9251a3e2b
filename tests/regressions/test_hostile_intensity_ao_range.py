"""Issue 17: the operator's intensity clamp knew only the rig's limit (800 µA), not the pathway's
AO range. On a pathway whose isolator command range gives 120 µA (``uA_per_V`` 100 × ±1.2 V),
``rig ctl intensity S1 +50`` was accepted as 150 µA: the NI task, configured for ±1.2 V, refuses
the 1.5 V write and the run fails at render time; the renderer itself checked a fixed ±10 V. Now
the controller clamps at what the AO range gives and says why, and the renderer checks each
pathway's own range, as the NI task does. Each test failed on the code before the fix."""

import numpy as np
import pytest

import tests.cl_harness as h
from drivers.sim.faults import FaultSlice
from rig.core import events as ev
from rig.core.documents import Sweep
from rig.core.plan import Stimulus
from rig.experiment.session import make_controller
from rig.protocol.rigfile import parse_rig
from rig.stimulus import LimitExceeded, render_block

NARROW_AO_RIG = """
backend = "sim"

[[ai]]
name = "field"
channel = "ai0"
gain = 1000.0

[[stim]]
pathway = "S1"
ao = "ao0"
uA_per_V = 100.0
ao_range_V = 1.2     # this isolator input takes ±1.2 V: 120 µA at most
"""


def _rig():
    return parse_rig(NARROW_AO_RIG, "narrow.toml")


def _plan():
    return h.make_plan([h.baseline(60, 120), h.follow_up(30)], intensity=(100.0,))


def test_operator_intensity_is_clamped_at_the_pathways_ao_range_with_the_reason():
    ctl = make_controller(_plan(), _rig())
    ctl.schedule(int(1 * h.FS))
    docs = ctl.handle_command({"cmd": "intensity", "pathway": 0, "delta_uA": 50.0, "source": "ctl"})
    (op,) = [d for d in docs if isinstance(d, ev.Operator)]
    (iset,) = [d for d in docs if isinstance(d, ev.IntensitySet)]
    assert op.accepted and iset.intensity_uA == 120.0 and iset.clamped
    assert "AO command range" in op.text and "120 µA" in op.text
    assert ctl.intensity_uA[0] == 120.0
    docs = ctl.handle_command({"cmd": "intensity", "pathway": 0, "delta_uA": -30.0, "source": "ctl"})
    assert ctl.intensity_uA[0] == 90.0  # decreases are untouched


def test_renderer_checks_each_pathways_own_ao_range():
    rig = _rig()
    wiring = rig.output_map()
    ok = Stimulus(sample=100, pathway=0, kind="test", width_samples=2)
    ao, _ = render_block(0, 1000, [(ok, 120.0)], [], np.zeros(0, bool), wiring, h.FS, h.LIMITS)
    assert abs(ao.max() - 1.2) < 1e-9
    with pytest.raises(LimitExceeded, match="±1.2 V"):
        render_block(0, 1000, [(ok, 150.0)], [], np.zeros(0, bool), wiring, h.FS, h.LIMITS)


def test_run_with_an_operator_increase_beyond_the_ao_range_completes_at_the_clamped_intensity():
    ctl = make_controller(_plan(), _rig())
    ctl.commands.put({"cmd": "intensity", "pathway": 0, "delta_uA": 500.0, "source": "ctl"})
    r = h.run(_plan(), FaultSlice(h.FS, 2, seed=3), controller=ctl)
    assert r.stop.reason == "completed"
    sets = [d for d in r.docs if isinstance(d, ev.IntensitySet) and d.rule == "operator"]
    assert [s.intensity_uA for s in sets] == [120.0]
    later = {d.intensity_uA for d in r.docs if isinstance(d, Sweep) and d.stim_sample > sets[0].sample}
    assert later == {120.0}
