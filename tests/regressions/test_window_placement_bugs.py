"""Issue 15: measurement windows that are right on real recordings — each finding, through
`rig analyze` on real ABF files (written with pyabf's ABF1 writer) built from the facts of real
CA1 recordings (docs/analysis.md, accuracy)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyabf.abfWriter
import pytest

from rig.bench.fepsp_corpus import true_slope
from rig.bench.fepsp_synth import Synth
from rig.cli import main


def _write(path: Path, synths: list[Synth]) -> Path:
    pyabf.abfWriter.writeABF1(np.stack([s.trace() for s in synths]), str(path), synths[0].fs_hz, units="mV")
    return path


def _cli(capsys, *args: str) -> tuple[int, dict | str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, out, err


# two-pathway 10 kHz file: pathway 1 has a volley 70 % of its small fEPSP, with a positive rebound
TWO = [Synth(fs_hz=10000.0, pre_ms=6.8, post_ms=60.0, amplitude_mV=-0.9, volley_mV=-0.06, volley_ms=1.9,
             onset_ms=2.4, rise_sigma_ms=0.35, tau_rise_ms=1.3, noise_uV=25.0, hum_uV=8.0),
       Synth(fs_hz=10000.0, pre_ms=6.8, post_ms=60.0, amplitude_mV=-0.31, volley_mV=-0.22, volley_ms=2.0,
             volley_sigma_ms=0.25, rebound_mV=0.12, rebound_delay_ms=0.55, onset_ms=2.4, rise_sigma_ms=0.35,
             tau_rise_ms=1.3, noise_uV=25.0, hum_uV=8.0)]
# 20 kHz input–output series: 25 ms sweeps, stimulus 0.35 ms in, trough ~3.8 ms after it
FAST = Synth(fs_hz=20000.0, pre_ms=0.35, post_ms=24.65, amplitude_mV=-1.2, volley_mV=-0.15, volley_ms=1.1,
             volley_sigma_ms=0.15, onset_ms=1.2, rise_sigma_ms=0.2, tau_rise_ms=0.7, tau_decay_ms=8.0,
             artifact_mV=30.0, artifact_tau_ms=0.06, noise_uV=25.0)


def _means(doc: dict) -> dict[int, float]:
    return {int(k): v["slope_mV_per_ms"]["mean"] for k, v in doc["pathways"].items()}


def test_auto_windows_on_a_big_volley_measure_the_synapse_per_pathway(tmp_path, capsys):
    path = _write(tmp_path / "two.abf", [TWO[i % 2].with_(seed=i) for i in range(120)])
    code, doc, err = _cli(capsys, "analyze", str(path), "--pathways", "2", "--auto", "30", "--json")
    assert code == 0, err
    for pw, mean in _means(doc).items():
        truth = true_slope(TWO[pw])
        assert mean == pytest.approx(truth, rel=0.10), (pw, doc["pathways"][str(pw)]["windows"]["slope"])
        lm = doc["pathways"][str(pw)]["landmarks_ms"]
        assert doc["pathways"][str(pw)]["windows"]["slope"][0] > lm["volley"]
    # pathway 1's window starts after the volley's rebound
    p1 = doc["pathways"]["1"]
    assert p1["windows"]["slope"][0] > p1["landmarks_ms"]["rebound"]


def test_default_windows_on_fast_responses_stay_off_the_trough(tmp_path, capsys):
    path = _write(tmp_path / "fast.abf", [FAST.with_(seed=i) for i in range(10)])
    code, doc, err = _cli(capsys, "analyze", str(path), "--json", "--stim-ms", "0.35")
    assert code == 0, err
    assert _means(doc)[0] == pytest.approx(true_slope(FAST), rel=0.10)
    assert doc["windows"]["slope"][1] < doc["pathways"]["0"]["landmarks_ms"]["trough"] - 1.0


def test_short_prestimulus_baseline_is_measured_not_window_outside(tmp_path, capsys):
    path = _write(tmp_path / "short.abf", [FAST.with_(seed=i) for i in range(6)])
    code, doc, err = _cli(capsys, "analyze", str(path), "--json", "--stim-ms", "0.35")
    assert code == 0, err
    assert all(s["slope_mV_per_ms"] is not None and s["flags"] & 4 == 0 for s in doc["sweeps"])
    # a baseline override is honoured, not ignored
    code, doc, err = _cli(capsys, "analyze", str(path), "--json", "--stim-ms", "0.35",
                          "--window", "baseline=-0.3:-0.05")
    assert code == 0 and doc["windows"]["baseline"] == [-0.3, -0.05]


def test_double_trigger_edge_is_one_stimulus(tmp_path, capsys):
    path = _write(tmp_path / "dbl.abf", [FAST.with_(seed=i, pre_ms=2.0) for i in range(6)])
    # a second artifact 0.15 ms after the first (two trigger edges)
    raw = np.stack([FAST.with_(seed=i, pre_ms=2.0).trace() for i in range(6)])
    k = int(round(2.15 * 20))
    raw[:, k] += 3.0
    pyabf.abfWriter.writeABF1(raw, str(path), 20000.0, units="mV")
    from rig.analysis.abf_input import find_stimuli, merge_edges
    assert merge_edges(np.array([40, 43, 400]), 20000.0).tolist() == [40, 400]
    assert find_stimuli(raw, 20000.0, 5.0).size == 1
    code, doc, err = _cli(capsys, "analyze", str(path), "--json")
    assert code == 0, err
    assert all("paired_pulse_ratio" not in s and s["slope_mV_per_ms"] is not None for s in doc["sweeps"])


def test_pathway_means_exclude_flagged_sweeps_and_say_so(tmp_path, capsys):
    synths = [TWO[0].with_(seed=i) for i in range(10)]
    raw = np.stack([s.trace() for s in synths])
    raw[7:, :] = np.where(np.arange(raw.shape[1]) > 70, 99.99, raw[7:, :])  # 3 sweeps at the rail (the writer: ±100 mV)
    path = tmp_path / "flag.abf"
    pyabf.abfWriter.writeABF1(raw, str(path), 10000.0, units="mV")
    code, doc, err = _cli(capsys, "analyze", str(path), "--json", "--window", "slope=3.5:4.5")
    st = doc["pathways"]["0"]
    assert st["flagged"] >= 3 and st["slope_mV_per_ms"]["n"] == 10 - st["flagged"]
    assert code == 0


def test_mostly_invalid_pathway_exits_1_with_a_message(tmp_path, capsys):
    raw = np.stack([TWO[0].with_(seed=i).trace() for i in range(6)])
    raw[1:, 60:] = 99.99  # at the rail (the writer's full scale: ±100 mV)
    path = tmp_path / "bad.abf"
    pyabf.abfWriter.writeABF1(raw, str(path), 10000.0, units="mV")
    code, doc, err = _cli(capsys, "analyze", str(path), "--json", "--stim-ms", "6.8", "--window", "slope=3:4")
    assert code == 1 and "pathway 0" in err and "invalid" in err


def test_wrong_polarity_response_is_a_warning_not_a_valid_slope(tmp_path, capsys):
    s = TWO[0].with_(amplitude_mV=0.9, volley_mV=0.0)
    path = _write(tmp_path / "pos.abf", [s.with_(seed=i) for i in range(6)])
    code, doc, err = _cli(capsys, "analyze", str(path), "--json")
    assert "polarity" in err and doc["pathways"]["0"]["ok"] is False


HOSTILE = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
    from rig.cli import main
    sys.exit(main(["analyze", sys.argv[1], "--json"]))
""")


def test_hostile_abf_header_is_refused_in_bounded_memory(tmp_path):
    path = _write(tmp_path / "ok.abf", [TWO[0].with_(seed=i) for i in range(4)])
    data = bytearray(path.read_bytes())
    # ABF1: lActualAcqLength (int32 at byte 10) and lActualEpisodes (byte 16) declare huge data
    data[10:14] = (2**31 - 1).to_bytes(4, "little")
    bad = tmp_path / "hostile.abf"
    bad.write_bytes(bytes(data))
    p = subprocess.run([sys.executable, "-c", HOSTILE, str(bad)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "hostile.abf" in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "declares" in p.stderr and "MemoryError" not in p.stderr  # refused before any allocation
