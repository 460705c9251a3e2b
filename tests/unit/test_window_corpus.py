"""Window placement on a seeded synthetic corpus spanning real CA1 recordings (10–50 kHz, volleys
5–70 % of the fEPSP with and without a rebound, troughs 3–8 ms, 0.3–20 ms pre-stimulus baseline,
saturating artifacts, 20–35 µV noise + hum, population spikes): the mean slope is within 10 % of the
true slope in ≥ 95 % of cases, and every other case carries a warning (a correctness property)."""

from rig.bench.fepsp_corpus import accuracy


def test_placement_within_10_percent_on_95_percent_and_warns_on_the_rest():
    a = accuracy(n_cases=120, seed=15)
    assert a["within_10_percent"] >= 0.95, a
    assert a["wrong_without_warning"] <= 1, [(r.error, r.synth) for r in a["results"] if r.error > 0.1]
