"""`rig analyze` on an ABF1 file (written with pyabf's own ABF1 writer) and on an LTP Rig recording.

pyabf cannot write ABF2; the ABF2 path is the same pyabf reader, so it is exercised only by
files made elsewhere (none is committed here).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyabf.abfWriter
import pytest

from rig import detector as D
from rig.analysis.abf_input import find_stimuli, open_input
from rig.bench.fepsp_synth import Synth
from rig.cli import main
from tests.conftest import baseline_toml

AMPS = (-0.5, -0.3)  # pathway 0, pathway 1 (alternating sweeps)


def _synth(i: int) -> Synth:
    return Synth(fs_hz=10000.0, amplitude_mV=AMPS[i % 2], noise_uV=20.0, seed=i, pre_ms=30.0, post_ms=70.0)


@pytest.fixture(scope="module")
def abf1(tmp_path_factory) -> Path:
    sweeps = np.stack([_synth(i).trace() for i in range(12)])
    path = tmp_path_factory.mktemp("abf") / "fepsp.abf"
    pyabf.abfWriter.writeABF1(sweeps, str(path), 10000.0, units="mV")
    return path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_abf_stimulus_found_from_artifact(abf1):
    src = open_input(abf1)
    assert src.kind == "abf" and src.sample_rate_hz == 10000.0 and src.n_sweeps == 12
    assert list(src.get_pulses(0)) == [_synth(0).stim_index]
    assert any("artifact" in n for n in src.notes)
    np.testing.assert_allclose(src.get_sweep(3), _synth(3).trace(), atol=1e-3)


def test_analyze_abf_json(abf1, capsys):
    code, out, err = run_cli(capsys, "analyze", str(abf1), "--pathways", "2", "--json",
                             "--window", "slope=3.0:4.5")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["source"] == str(abf1) and doc["sample_rate_hz"] == 10000.0
    assert doc["method"] == "regression"
    assert doc["windows"]["slope"] == list(D.Windows().slope)
    assert len(doc["sweeps"]) == 12
    keys = {"index", "pathway", "time_s", "slope_mV_per_ms", "amplitude_mV", "fiber_volley_mV",
            "pop_spike_mV", "flags"}
    assert all(keys <= set(s) for s in doc["sweeps"])
    assert [s["pathway"] for s in doc["sweeps"]] == [i % 2 for i in range(12)]
    for s in doc["sweeps"]:
        syn = _synth(s["index"])
        assert s["amplitude_mV"] == pytest.approx(syn.amplitude_mV, rel=0.06)
        assert s["slope_mV_per_ms"] == pytest.approx(syn.true_regression_slope(3.0, 4.5), rel=0.25)
        assert s["fiber_volley_mV"] == pytest.approx(syn.volley_mV, abs=0.03)
        assert s["pop_spike_mV"] == 0.0
    t = [s["time_s"] for s in doc["sweeps"]]
    assert np.all(np.diff(t) > 0)


def test_analyze_abf_method_window_and_text(abf1, capsys):
    code, out, _ = run_cli(capsys, "analyze", str(abf1), "--json", "--method", "max",
                           "--window", "slope=2.8:4.0", "--window", "peak=3:12")
    doc = json.loads(out)
    assert code == 0 and doc["method"] == "max"
    assert doc["windows"]["slope"] == [2.8, 4.0] and doc["windows"]["peak"] == [3.0, 12.0]
    direct = D.measure(_synth(0).trace(), _synth(0).stim_index, 10000.0,
                       D.Windows(slope=(2.8, 4.0), peak=(3.0, 12.0)))[0]
    assert doc["sweeps"][0]["slope_mV_per_ms"] == pytest.approx(direct["slope_max_mV_per_ms"], rel=0.02)
    code, out, _ = run_cli(capsys, "analyze", str(abf1), "--pathways", "2", "--auto", "6")
    assert code == 0
    assert "pathway 0: 6 sweeps" in out and "pathway 1: 6 sweeps" in out and "±" in out
    assert "placed from landmarks" in out and "landmarks (ms)" in out


@pytest.mark.parametrize(
    "make, extra, needle",
    [
        (lambda p: None, [], "no such file"),
        (lambda p: p.write_bytes(b"hello world, not a recording"), [], "unknown signature"),
        (lambda p: p.write_bytes(b"ABF " + bytes(100)), [], "ABF"),
        ("abf", ["--window", "slope=5:4"], "--window"),
        ("abf", ["--window", "bogus=1:2"], "bogus"),
        ("abf", ["--channel", "3"], "--channel"),
        ("abf", ["--pathways", "0"], "--pathways"),
    ],
)
def test_bad_input_exit_2_one_line(tmp_path, abf1, capsys, make, extra, needle):
    if make == "abf":
        path = abf1
    else:
        path = tmp_path / "x.abf"
        make(path)
    code, out, err = run_cli(capsys, "analyze", str(path), *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_find_stimuli_paired_pulse_and_flat():
    s = Synth(fs_hz=20000.0)
    t = s.t_ms()
    x = np.clip(s.clean(t) + s.artifact(t) + s.clean(t - 50) + s.artifact(t - 50), -4, 4)
    assert list(find_stimuli(x[None, :], 20000.0)) == [s.stim_index, s.stim_index + 1000]
    with pytest.raises(Exception, match="stimulus"):
        find_stimuli(np.random.default_rng(0).normal(size=(3, 500)), 20000.0)


PROTOCOL = baseline_toml(1.0, 10.0, name="analyze test", pathways=("S1", "S2"))


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rec")
    (d / "p.toml").write_text(PROTOCOL)
    out = d / "r.h5"
    assert main(["run", str(d / "p.toml"), "--sim", "--speed", "max", "--seed", "3", "--no-gui",
                 "--out", str(out)]) == 0
    return out


def test_analyze_ltp_rig_recording_matches_online_measurements(recording, capsys):
    from rig.storage import open_recording

    code, out, err = run_cli(capsys, "analyze", str(recording), "--json")
    assert code == 0, err
    doc = json.loads(out)
    with open_recording(recording) as rec:
        online = rec.measurements[rec.measurements["pulse"] == 0]
        pathways = rec.sweep_table["pathway"]
        times = rec.sweep_table["time_s"]
    assert len(doc["sweeps"]) == len(online) > 0
    for s, m, pw, t in zip(doc["sweeps"], online, pathways, times, strict=True):
        assert s["pathway"] == int(pw) and s["time_s"] == pytest.approx(float(t))
        # same detector, same default windows → the same numbers as online
        if np.isfinite(m["slope_mV_per_ms"]):
            assert s["slope_mV_per_ms"] == pytest.approx(float(m["slope_mV_per_ms"]), rel=1e-9)
        assert s["flags"] == int(m["flags"])



def test_windows_stored_with_the_recording_are_used(recording, tmp_path, capsys):
    import shutil

    import h5py

    copy = tmp_path / "with_windows.h5"
    shutil.copy(recording, copy)
    stored = D.Windows(slope=(2.9, 4.1))
    with h5py.File(copy, "r+") as f:
        f.attrs["windows"] = json.dumps(stored.to_dict())
    code, out, err = run_cli(capsys, "analyze", str(copy), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["windows"]["slope"] == [2.9, 4.1]
    assert "windows stored with the recording" in doc["notes"]
    code, out, _ = run_cli(capsys, "analyze", str(copy), "--json", "--window", "slope=3:4")
    assert json.loads(out)["windows"]["slope"] == [3.0, 4.0]
