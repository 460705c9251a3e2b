"""Recordings made by earlier releases stay readable (a fixture of each stored format version).

``tests/fixtures/recording_format_1_1.h5`` was written by the release with file format 1.1
(``tests.conftest.tbs_toml(2, 3, 10)``, seed 7, simulated slice): 31 sweeps, TBS at 2 min.
"""

import json
import subprocess
import sys
from pathlib import Path

from rig.storage import open_recording

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "recording_format_1_1.h5"


def test_reader_opens_a_format_1_1_recording():
    with open_recording(FIXTURE) as rec:
        assert rec.complete and rec.n_sweeps == 31
        assert str(rec.attrs["format_version"]) == "1.1"


def test_summary_of_a_format_1_1_recording_gives_its_result():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(FIXTURE), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["sweeps"] == 31
    assert abs(doc["ltp_percent"] - 107.8) < 0.05


FIXTURE_1_2 = Path(__file__).resolve().parents[1] / "fixtures" / "recording_format_1_2.h5"
# recording_format_1_2.h5: the release with file format 1.2 (tbs_toml(2, 3, 10), seed 7, --speed max):
# 31 sweeps, TBS at 2 min, 40 of 40 pulses delivered, 107.9 % of baseline.


def test_reader_opens_a_format_1_2_recording():
    with open_recording(FIXTURE_1_2) as rec:
        assert rec.complete and rec.n_sweeps == 31
        assert str(rec.attrs["format_version"]) == "1.2"


def test_summary_of_a_format_1_2_recording_gives_its_result():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(FIXTURE_1_2), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["sweeps"] == 31
    assert abs(doc["ltp_percent"] - 107.86) < 0.05
    assert doc["inductions"][0]["pulses_delivered"] == 40


FIXTURE_1_3 = Path(__file__).resolve().parents[1] / "fixtures" / "recording_format_1_3.h5"
# recording_format_1_3.h5: main at file format 1.3 (tbs_toml(2, 3, 10), seed 7, --speed max, --average 3):
# 31 sweeps, TBS at 2 min, 40 of 40 pulses delivered, 106.05 % of baseline, 10 averages (events only:
# 1.3 stored averaged measurements as `average_measured` events, not as /measurements rows).


def test_reader_opens_a_format_1_3_recording():
    with open_recording(FIXTURE_1_3) as rec:
        assert rec.complete and rec.n_sweeps == 31
        assert str(rec.attrs["format_version"]) == "1.3"
        assert len(rec.measurements) == 70 and len(set(rec.measurements["sweep_index"])) == 31  # a row per pulse


def test_summary_of_a_format_1_3_recording_gives_its_result_and_averages():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(FIXTURE_1_3), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["sweeps"] == 31
    assert abs(doc["ltp_percent"] - 106.05) < 0.05
    assert doc["inductions"][0]["pulses_delivered"] == 40
    assert len(doc["averages"]["0"]) == 10  # from the 1.3 file's average_measured events
