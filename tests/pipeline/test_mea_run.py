"""MEA mode end to end on the simulator (issue 19): `rig run --rig rigs/mea64.toml` records all 64
electrodes, measures every one every sweep, and `rig summary` / `rig report` give the per-electrode
table, the LTP map and the fraction of responding electrodes that potentiated — whose gradient is
the simulated slice's."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drivers.sim.mea import draw_electrodes
from rig.cli import main
from rig.protocol.rigfile import load_rig
from rig.storage import mea as mea_store
from rig.storage import open_recording

pytestmark = pytest.mark.slow
SEED = 1


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("mea") / "mea.h5"
    rc = main(["run", "--rig", "rigs/mea64.toml", "protocols/mea_tbs_ltp.toml", "--sim", "--speed", "max",
               "--seed", str(SEED), "--no-gui", "--out", str(out)])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def summary(recording):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["summary", str(recording), "--json"]) == 0
    return json.loads(buf.getvalue())


def test_the_file_holds_64_electrodes_and_every_electrode_s_measurements(recording):
    with open_recording(recording) as rec:
        assert rec.complete and rec.format_version == "1.5" and rec.n_ai == 64
        mea = mea_store.read(rec)
        lay = mea.layout
        assert lay.n == 64 and lay.electrodes[0] == lay.field_electrode == 29
        roles = dict(zip(mea.electrodes["electrode"].tolist(), [r.decode() for r in mea.electrodes["role"]],
                         strict=True))
        assert roles[29] == "field" and roles[20] == "stimulating" and list(roles.values()).count("recording") == 62
        m = mea.measurements
        assert len(m) == 64 * int(rec.sweep_table["n_pulses"].sum())  # every electrode, every pulse, every sweep
        # the field electrode's rows are exactly the engine's online measurement of the field channel
        field = m[m["column"] == 0]
        allm = rec.all_measurements[rec.all_measurements["averaged_n"] == 0]
        _, first = np.unique(allm["sweep_index"].astype(np.int64) * 1000 + allm["pulse"], return_index=True)
        online = allm[np.sort(first)]  # each pulse's live row (the auto windows' version re-measures later)
        assert len(rec.analyses) > 1
        for f in ("sweep_index", "pulse", "slope_mV_per_ms", "amplitude_mV", "flags"):
            assert np.array_equal(field[f], online[f], equal_nan=True), f
        # the samples are the ADC counts of every electrode: the stimulating one saturates at each pulse
        i = int(np.flatnonzero(rec.sweep_table["kind"] == b"test")[0])
        counts = rec.sweep_counts(i)
        assert counts.shape[1] == 64 and np.abs(counts[:, lay.column(20)]).max() >= 32767


def test_the_map_follows_the_simulated_gradient(summary):
    rig, _ = load_rig("rigs/mea64.toml")
    lay = rig.mea_layout()
    sim = draw_electrodes(np.array([lay.xy_um(e) for e in lay.electrodes]), np.array([lay.xy_um(20)]),
                          lay.pitch_um, rig.sample_rate_hz, SEED + rig.sim.seed_offset)
    factor = {e: float(sim.fepsp[lay.column(e), 0]) for e in lay.electrodes}
    table = {r["electrode"]: r for r in summary["mea"]["electrodes"]}
    strong = [e for e, f in factor.items() if f > 0.25 and e != 20]
    weak = [e for e, f in factor.items() if abs(f) < 0.03]
    assert len(strong) >= 4 and len(weak) >= 30
    assert all(table[e]["responding"] for e in strong), [(e, table[e]["why_not_responding"]) for e in strong]
    assert not any(table[e]["responding"] for e in weak)
    reversed_ = [e for e, f in factor.items() if f < -0.05]  # stratum pyramidale: a positive field
    assert reversed_ and not any(table[e]["responding"] for e in reversed_)
    # responding electrodes lie around the stimulating one, within the radiatum band
    for e in (e for e, r in table.items() if r["responding"]):
        r, c = lay.position(e)
        assert abs(r - 2) <= 1 and abs(c - 3) <= 4, e
    assert not table[20]["responding"] and table[20]["why_not_responding"] == "stimulating electrode"


def test_the_fraction_is_what_the_per_electrode_values_give(summary):
    mea = summary["mea"]
    rows = mea["electrodes"]
    assert len(rows) == 64 and mea["n_electrodes"] == 64 and mea["method"] == "max"
    resp = [r for r in rows if r["responding"] and r["ltp_percent"] is not None]
    pot = [r for r in resp if r["ltp_percent"] > mea["potentiated_percent"]]
    assert mea["responding_with_result"] == len(resp) >= 8
    assert mea["potentiated"] == len(pot) and mea["fraction_potentiated"] == pytest.approx(len(pot) / len(resp))
    assert mea["fraction_potentiated"] >= 0.75  # TBS potentiates the slice: every electrode shares it
    assert summary["ltp_percent"] > 120.0  # and the field electrode's result, as for one electrode


def test_summary_text_and_a_stricter_threshold(recording, capsys):
    assert main(["summary", str(recording), "--potentiated", "1000"]) == 0
    out = capsys.readouterr().out
    assert "MEA           64 electrodes (8×8, 200 µm), stimulating 20, field 29" in out
    assert "potentiated (> 1000 %): 0 of" in out and "LTP map" in out
    assert out.count("   S") == 1


def test_report_draws_the_ltp_map_and_reports_the_fraction(recording, summary, tmp_path, capsys):
    rc = main(["report", str(recording), "--out", str(tmp_path / "rep"), "--json"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    (m,) = rep["mea"]
    assert m["fraction_potentiated"] == pytest.approx(summary["mea"]["fraction_potentiated"])
    png = tmp_path / "rep" / "mea" / "mea_ltp_map.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and m["figure"] == str(png)
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "MEA: LTP maps" in html and "data:image/png;base64" in html
    table = (tmp_path / "rep" / "mea.csv").read_text().splitlines()
    assert len(table) == 65 and table[0].startswith("file,electrode,row,col")


def test_recover_keeps_the_mea_measurements(recording, tmp_path):
    out = tmp_path / "clean.h5"
    assert main(["recover", str(recording), "--out", str(out)]) == 0
    with open_recording(recording) as a, open_recording(out) as b:
        ma, mb = mea_store.read(a), mea_store.read(b)
        assert mb.layout == ma.layout and len(mb.measurements) == len(ma.measurements) > 0
        assert mb.measurements.tobytes() == ma.measurements.tobytes()  # row for row, bit for bit (NaN too)
