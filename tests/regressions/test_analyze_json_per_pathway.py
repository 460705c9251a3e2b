"""Issue 15: `rig analyze FILE --json` gave each pathway's window ``confidence`` and ``reasons`` only
when it placed the windows itself: on a recording with stored windows (every LTP Rig recording) and
with ``--window slope=`` the keys were missing. Now every pathway always has ``landmarks_ms``,
``confidence`` and ``reasons`` (one entry per window); for windows not placed here they describe the
windows used: the stored online proposal they came from (its confidence), "stored windows", "given
with --window" or the detector default, and the slope reason places the window against the landmarks.

Recordings: protocols/two_pathway_tbs.toml shortened, through the simulator (S2 with its own stored
slope window; and with auto windows, so the online proposals are stored); an ABF1 file written with
pyabf's writer (two alternating pathways), as in tests/pipeline/test_analyze.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyabf.abfWriter
import pytest

from rig.bench.fepsp_synth import Synth
from rig.cli import main
from rig.detector import WINDOW_NAMES
from rig.storage import open_recording

PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "two_pathway_tbs.toml"
KEYS = {"windows", "windows_source", "landmarks_ms", "sweeps_averaged", "confidence", "reasons", "ok", "message"}


def _protocol(tmp: Path, name: str, analysis: str) -> Path:
    text = PROTOCOL.read_text().replace("duration_min = 20.0", "duration_min = 5.0")
    text = text.replace("duration_min = 60.0", "duration_min = 1.0").replace("trains = 3", "trains = 1")
    p = tmp / f"{name}.toml"
    p.write_text(text.replace("[stimulation]", analysis + "\n[stimulation]"))
    return p


def _record(tmp: Path, name: str, analysis: str) -> Path:
    out = tmp / f"{name}.h5"
    assert main(["run", str(_protocol(tmp, name, analysis)), "--sim", "--speed", "max", "--seed", "1",
                 "--no-gui", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> Path:
    return _record(tmp_path_factory.mktemp("own"), "own",  # the protocol's windows, not placed (auto off)
                   "[analysis]\nauto_windows = false\n[analysis.pathways.S2.windows]\nslope = [2.6, 3.6]\n")


@pytest.fixture(scope="module")
def auto(tmp_path_factory) -> Path:
    return _record(tmp_path_factory.mktemp("auto"), "auto", "[analysis]\nauto_windows = true\nsettle_sweeps = 5\n")


@pytest.fixture(scope="module")
def abf(tmp_path_factory) -> Path:
    sweeps = np.stack([Synth(fs_hz=10000.0, amplitude_mV=(-0.5, -0.3)[i % 2], noise_uV=20.0, seed=i, pre_ms=30.0,
                             post_ms=70.0).trace() for i in range(12)])
    path = tmp_path_factory.mktemp("abf") / "two.abf"
    pyabf.abfWriter.writeABF1(sweeps, str(path), 10000.0, units="mV")
    return path


def _analyze(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main(["analyze", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _check_keys(doc: dict, pathways: tuple[str, ...]) -> None:
    assert tuple(doc["pathways"]) == pathways
    for pw, p in doc["pathways"].items():
        assert KEYS <= set(p), f"pathway {pw}: missing {sorted(KEYS - set(p))}"
        assert set(WINDOW_NAMES) <= set(p["confidence"]) & set(p["reasons"]), pw
        assert all(isinstance(r, str) and r for r in p["reasons"].values())
        assert {"volley", "rebound", "trough"} <= set(p["landmarks_ms"]), pw


def test_stored_windows_keep_per_pathway_confidence_reasons_and_landmarks(own, capsys):
    doc = _analyze(capsys, str(own))
    _check_keys(doc, ("0", "1"))
    s1, s2 = doc["pathways"]["0"], doc["pathways"]["1"]
    assert s2["windows"]["slope"] == [2.6, 3.6] and s1["windows"]["slope"] == [3.0, 4.5]
    for p in (s1, s2):
        assert p["windows_source"] == "stored with the recording"
        assert p["confidence"]["slope"] is None  # nothing placed them: no confidence is made up
        assert p["reasons"]["slope"].startswith("stored windows (not placed from landmarks)")
        lm = p["landmarks_ms"]
        assert f"ends {lm['trough'] - p['windows']['slope'][1]:.2f} ms before the trough" in p["reasons"]["slope"]
    assert "+0.35 ms from the volley's rebound" in s2["reasons"]["slope"]  # 2.6 ms against a 2.25 ms rebound
    assert s2["landmarks_ms"]["rebound"] == pytest.approx(2.25)
    code = main(["analyze", str(own)])  # the text table prints the stored windows without a confidence
    out = capsys.readouterr().out
    assert code == 0 and "(stored with the recording)" in out


def test_windows_from_the_stored_online_proposal_carry_its_confidence(auto, capsys):
    with open_recording(auto) as rec:
        props = {e["data"]["pathway"]: e["data"] for e in rec.events if e["kind"] == "windows_proposed"}
    assert set(props) == {0, 1} and all(p["ok"] for p in props.values())
    doc = _analyze(capsys, str(auto))
    _check_keys(doc, ("0", "1"))
    for pw, p in doc["pathways"].items():
        assert p["windows"]["slope"] == props[int(pw)]["windows"]["slope"]
        assert p["confidence"]["slope"] == props[int(pw)]["confidence"]
        assert p["reasons"]["slope"].startswith("stored windows: placed online from landmarks on the average of 5")
    # --auto places them again here: the placement's own confidence and reasons
    placed = _analyze(capsys, str(auto), "--auto", "5")
    _check_keys(placed, ("0", "1"))
    assert all(p["windows_source"] == "placed from landmarks" and "stored" not in p["reasons"]["slope"]
               for p in placed["pathways"].values())


def test_abf_with_window_and_placed(abf, capsys):
    given = _analyze(capsys, str(abf), "--pathways", "2", "--window", "slope=3.0:4.5")
    _check_keys(given, ("0", "1"))
    for p in given["pathways"].values():
        assert p["windows_source"] == "--window"
        assert p["reasons"]["slope"].startswith("given with --window") and p["confidence"]["slope"] is None
        assert p["reasons"]["baseline"] == "detector default"
    placed = _analyze(capsys, str(abf), "--pathways", "2", "--window", "baseline=-8:-1")
    _check_keys(placed, ("0", "1"))
    for p in placed["pathways"].values():
        assert 0.0 <= p["confidence"]["slope"] <= 1.0 and "given" not in p["reasons"]["slope"]
        assert p["windows"]["baseline"] == [-8.0, -1.0]
        assert p["reasons"]["baseline"] == "given with --window" and p["confidence"]["baseline"] is None
