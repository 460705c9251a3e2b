"""Issue 15: WinLTP's averaged measurement existed only offline (`rig analyze --average N`); a run
could not measure the average of N consecutive sweeps. `rig run --average N` (or protocol
`[analysis] average = N`) now measures it per pathway besides every single sweep, stores it as an
``average_measured`` event and `rig summary` shows it."""

from __future__ import annotations

import json

import numpy as np

from rig.cli import main
from rig.storage import open_recording
from tests.conftest import write_short_tbs


def test_run_average_n_is_measured_stored_and_shown(tmp_path, capsys):
    p = write_short_tbs(tmp_path, base_min=1.0, follow_min=1.0)
    out = tmp_path / "avg.h5"
    assert main(["run", str(p), "--speed", "max", "--seed", "2", "--out", str(out), "--no-gui",
                 "--average", "3"]) == 0
    capsys.readouterr()
    with open_recording(out) as rec:
        avgs = [e for e in rec.typed_events if e.kind == "average_measured"]
        m = rec.measurements
        st = rec.sweep_table
    assert len(avgs) >= 3
    single = {int(i): float(s) for i, s, pulse in zip(m["sweep_index"], m["slope_mV_per_ms"], m["pulse"],
                                                       strict=True) if pulse == 0}
    for a in avgs:
        idx = [i for i in range(a.first_sweep, a.last_sweep + 1)
               if st["kind"][i] == b"test" and int(st["pathway"][i]) == a.pathway]
        assert len(idx) == a.sweeps == 3
        # the regression slope is linear: the slope of the average is the mean of the sweeps' slopes
        assert np.isclose(a.values["slope_mV_per_ms"], np.mean([single[i] for i in idx]), atol=2e-6)
    assert main(["summary", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["averages"]["0"]) == len(avgs)
    assert doc["averages"]["0"][0]["percent_of_baseline"] is not None
    assert main(["summary", str(out)]) == 0
    assert "averages of 3 sweeps" in capsys.readouterr().out


def test_protocol_average_setting_is_validated(tmp_path, capsys):
    p = write_short_tbs(tmp_path, base_min=1.0, follow_min=0.5)
    p.write_text(p.read_text().replace("[stimulation]", "[analysis]\naverage = 0\n\n[stimulation]"))
    assert main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "average" in err and "Traceback" not in err
