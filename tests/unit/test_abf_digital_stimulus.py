"""The ABF reader's digital stimulus (issue 20, start-up): the epoch table of a file is built once,
not once per digital output, and the rising edges found are the ones ``abf.sweepD`` gives."""

from __future__ import annotations

import numpy as np
import pyabf
import pyabf.abfWriter
import pyabf.waveform
import pytest

from rig.analysis.abf_input import _digital_stimulus

N_PTS = 1000


@pytest.fixture
def abf(tmp_path):
    path = tmp_path / "d.abf"
    pyabf.abfWriter.writeABF1(np.zeros((240, N_PTS)), str(path), 10000.0, units="mV")
    return pyabf.ABF(str(path))


def _with_pulse(monkeypatch, output: int | None) -> None:
    """ABF1 files carry no digital pattern: make output ``output`` pulse at samples 300 and 700."""
    def digital(self, d):
        w = np.zeros(self.p2s[-1], dtype=int)
        if d == output:
            w[300:310] = w[700:710] = 1
        return w

    monkeypatch.setattr(pyabf.waveform.EpochSweepWaveform, "getDigitalWaveform", digital)


def _reference(abf) -> np.ndarray | None:
    """What the reader did before: ``sweepD`` for each output in turn."""
    abf.setSweep(0)
    for d in range(8):
        dig = np.asarray(abf.sweepD(d))[:N_PTS]
        edges = np.flatnonzero((dig[1:] > 0) & (dig[:-1] <= 0)) + 1
        if edges.size:
            return edges
    return None


@pytest.mark.parametrize("output", [None, 0, 5])
def test_same_edges_as_sweepD(abf, monkeypatch, output):
    _with_pulse(monkeypatch, output)
    ref, got = _reference(abf), _digital_stimulus(abf, N_PTS)
    assert (ref is None and got is None) or np.array_equal(ref, got)
    if output is not None:
        assert got.tolist() == [300, 700]


def test_epoch_table_built_at_most_once(abf, monkeypatch):
    _with_pulse(monkeypatch, 7)  # the last output: every output is looked at
    built = []
    init = pyabf.waveform.EpochTable.__init__
    monkeypatch.setattr(pyabf.waveform.EpochTable, "__init__",
                        lambda self, *a, **k: (built.append(1), init(self, *a, **k))[1])
    assert _digital_stimulus(abf, N_PTS).tolist() == [300, 700]
    assert len(built) <= 1, f"epoch table of 240 sweeps built {len(built)} times"
