"""`rig export`: NWB 2 (nwbinspector-clean, read back by pynwb and neo) and the CSV time course."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import rig.commands.run  # noqa: F401 - import before capsys (ProgressBar binds sys.stderr at import)
from rig import cli
from rig.analysis.export.csv import COLUMNS
from rig.analysis.export.nwb import export_nwb
from rig.storage import open_recording
from tests.storage_helpers import record


@pytest.fixture(scope="module")
def rec_path(tmp_path_factory):
    return record(tmp_path_factory.mktemp("exp"))


@pytest.fixture(scope="module")
def nwb_path(rec_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("nwb") / "rec.nwb"
    assert cli.main(["export", str(rec_path), "--nwb", str(out)]) == 0
    return out


def _serious(path):
    from nwbinspector import Importance, inspect_nwbfile

    bad = {Importance.CRITICAL, Importance.BEST_PRACTICE_VIOLATION}
    return [f"{m.importance.name} {m.check_function_name}: {m.message}" for m in inspect_nwbfile(nwbfile_path=str(path))
            if m.importance in bad]


def test_nwb_has_no_critical_or_best_practice_violation(nwb_path):
    assert _serious(nwb_path) == []


def test_nwb_with_electrical_series_is_also_clean(rec_path, tmp_path):
    with open_recording(rec_path) as r:
        export_nwb(r, tmp_path / "es.nwb", electrical=True)
    assert _serious(tmp_path / "es.nwb") == []


def test_nwb_reads_back_with_pynwb(nwb_path, rec_path):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(nwb_path), "r") as io, open_recording(rec_path) as r:
        f = io.read()
        fs = r.sample_rate_hz
        sweeps = sorted(k for k in f.acquisition if k.startswith("sweep_"))
        assert len(sweeps) == r.n_sweeps
        for i in (0, 1, int(np.flatnonzero(r.sweep_table["kind"] == b"train")[0])):
            ts = f.acquisition[f"sweep_{i:05d}"]
            assert ts.rate == fs and ts.starting_time == r.sweep_table["start_sample"][i] / fs
            mV = ts.data[:] * ts.conversion * 1e3
            np.testing.assert_allclose(mV, r.sweep_mV(i), rtol=1e-6, atol=1e-7)
        tab = f.intervals["sweeps"].to_dataframe()
        assert len(tab) == r.n_sweeps and list(tab["n_pulses"]) == list(r.sweep_table["n_pulses"])
        assert set(tab["phase"]) == {"baseline", "TBS", "follow-up"}
        s1 = f.stimulus["stimulus_S1"]
        p1 = np.concatenate([r.pulse_samples(i) for i in range(r.n_sweeps) if r.sweep_table["pathway"][i] == 0])
        np.testing.assert_allclose(s1.timestamps[:], np.sort(p1) / fs)
        assert s1.data[0] * s1.conversion == pytest.approx(100e-6)
        meas = f.processing["ecephys"]["measurements"].to_dataframe()
        np.testing.assert_array_equal(meas["slope_mV_per_ms"].to_numpy(), r.measurements["slope_mV_per_ms"])
        ev = f.events["rig_events"].to_dataframe()
        assert list(ev["kind"]) == [e["kind"] for e in r.events]
        assert list(f.epochs.to_dataframe()["kind"]) == ["baseline", "induction", "follow_up"]
        sub = f.subject
        assert (sub.subject_id, sub.sex, sub.age, sub.genotype, sub.species) == ("crash-1", "F", "P35D", "WT",
                                                                                  "Mus musculus")
        assert list(f.experimenter) == ["Doe, Jane"]
        roles = list(f.electrodes.to_dataframe()["role"])
        assert roles == ["recording", "stimulating", "stimulating"]
        assert "sample_rate_hz" in json.loads(f.source_script)["rig_text"]


def test_nwb_reads_back_with_neo(nwb_path, rec_path):
    import neo
    import quantities as pq

    blocks = neo.io.NWBIO(str(nwb_path), mode="r").read_all_blocks()
    data = next(b for b in blocks if b.name == "Crash test")
    with open_recording(rec_path) as r:
        segs = [s for s in data.segments if s.name.startswith("sweep ")]
        assert len(segs) == r.n_sweeps
        sig = segs[3].analogsignals[0]
        assert sig.units == pq.mV and float(sig.sampling_rate) == r.sample_rate_hz
        assert float(sig.t_start) == pytest.approx(r.sweep_table["start_sample"][3] / r.sample_rate_hz)
        np.testing.assert_allclose(np.asarray(sig.magnitude)[:, 0], r.sweep_mV(3), rtol=1e-6, atol=1e-7)
    stim = next(s for s in data.segments if s.name == "stimulus")
    assert {s.name for s in stim.irregularlysampledsignals} == {"stimulus_S1", "stimulus_S2"}
    epochs = [e for b in blocks for s in b.segments for e in s.epochs]
    assert list(epochs[0].labels) == ["baseline", "TBS", "follow-up"]


@pytest.mark.xfail(strict=True, raises=ValueError, reason="neo 0.14.6 rejects ElectricalSeries.electrodes "
                   "(a DynamicTableRegion) as an annotation; if this passes, neo fixed it: make it the default")
def test_neo_reads_electrical_series(rec_path, tmp_path):
    import neo

    with open_recording(rec_path) as r:
        export_nwb(r, tmp_path / "es.nwb", electrical=True)
    neo.io.NWBIO(str(tmp_path / "es.nwb"), mode="r").read_all_blocks()


def test_csv_one_row_per_sweep_with_units(rec_path, tmp_path):
    out = tmp_path / "t.csv"
    assert cli.main(["export", str(rec_path), "--csv", str(out)]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == COLUMNS
    assert "slope_mV_per_ms" in COLUMNS and "time_min" in COLUMNS and "intensity_uA" in COLUMNS
    with open_recording(rec_path) as r:
        assert len(rows) == r.n_sweeps
        m0 = r.measurements[r.measurements["pulse"] == 0]
        np.testing.assert_allclose([float(x["slope_mV_per_ms"]) for x in rows], m0["slope_mV_per_ms"], atol=1e-6)
        changed = [e.sample / r.sample_rate_hz for e in r.typed_events if e.kind == "windows"]
    after = changed[-1] if changed else -1.0  # the baseline counts after the (auto) windows change
    for pw in ("S1", "S2"):
        base = [float(x["slope_percent_of_baseline"]) for x in rows if x["pathway"] == pw and x["phase"] == "baseline"
                and float(x["time_s"]) >= after]
        assert np.mean(base) == pytest.approx(100.0, abs=0.01)
    trains = [x for x in rows if x["sweep_kind"] == "train"]
    assert len(trains) == 2 and all(x["slope_percent_of_baseline"] == "" and x["n_pulses"] == "20" for x in trains)


def test_export_refuses_bad_outputs(rec_path, tmp_path, capsys):
    out = tmp_path / "x.csv"
    out.write_text("keep")
    assert cli.main(["export", str(rec_path)]) == 2
    assert cli.main(["export", str(rec_path), "--csv", str(out)]) == 2
    assert "exists; use --force" in capsys.readouterr().err and out.read_text() == "keep"
    assert cli.main(["export", str(rec_path), "--csv", str(tmp_path / "nodir" / "x.csv")]) == 2
    assert cli.main(["export", str(rec_path), "--csv", str(tmp_path)]) == 2
    assert cli.main(["export", str(rec_path), "--csv", str(rec_path)]) == 2
    assert cli.main(["export", str(tmp_path / "missing.h5"), "--csv", str(tmp_path / "y.csv")]) == 2
    assert cli.main(["export", str(rec_path), "--csv", str(out), "--force"]) == 0
    assert out.read_text().startswith("sweep,time_s")
    assert not list(tmp_path.glob(".*partial*"))
