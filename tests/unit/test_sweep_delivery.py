"""Per-sweep delivered counts come from the output blocks written (rig.core.delivery), not the plan."""

from rig.core.delivery import DeliveryLedger
from rig.core.plan import Plan, Stimulus


def _ledger() -> DeliveryLedger:
    return DeliveryLedger(Plan(name="t", sample_rate_hz=20_000.0, phases=[]))


def test_a_paired_sweep_whose_second_pulse_fell_in_a_zeroed_block_counts_one_delivered():
    d = _ledger()
    s = Stimulus(sample=1000, pathway=0, kind="test", pulse_offsets=(0, 1000))
    d.scheduled(s, 100.0, 0)
    d.written(0, 1500, True)
    d.written(1500, 1500, False)  # outputs zeroed (e.g. output underflow) for the second pulse
    d.written(3000, 1500, True)
    assert d.of_sweep(s) == {"pulses_planned": 2, "pulses_delivered": 1, "first_pulse_sample": 1000,
                             "last_pulse_sample": 1000}


def test_every_pulse_written_with_stimulation_on_is_delivered():
    d = _ledger()
    s = Stimulus(sample=100, pathway=1, kind="io", pulse_offsets=(0,))
    d.scheduled(s, 50.0, 0)
    d.written(0, 4000, True)
    assert d.of_sweep(s)["pulses_delivered"] == 1
