"""`rig run … --screenshot FILE.png [--screenshot-at SECONDS]` (offscreen)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtGui  # noqa: E402

import rig.experiment.progress  # noqa: E402,F401 - imported at collection: ProgressBar binds sys.stderr
from rig.cli import main  # noqa: E402
from rig.storage import open_recording  # noqa: E402
from tests.conftest import baseline_toml  # noqa: E402

PROTOCOL = baseline_toml(0.67, 2.0, name="Shot")


def test_run_with_window_saves_a_screenshot_and_records_everything(tmp_path, capsys):
    proto = tmp_path / "p.toml"
    proto.write_text(PROTOCOL)
    out, png = tmp_path / "r.h5", tmp_path / "shot.png"
    rc = main(["run", str(proto), "--sim", "--speed", "max", "--out", str(out),
               "--screenshot", str(png), "--screenshot-at", "20"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "screenshot saved" in err and "headless" not in err
    img = QtGui.QImage(str(png))
    assert (img.width(), img.height()) == (1600, 950)
    with open_recording(out) as rec:
        assert rec.complete and rec.n_sweeps == 20 and int(rec.status["gaps"]) == 0


def test_screenshot_option_errors(tmp_path, capsys):
    proto = tmp_path / "p.toml"
    proto.write_text(PROTOCOL)
    png = tmp_path / "s.png"
    assert main(["run", str(proto), "--no-gui", "--screenshot", str(png)]) == 2
    assert main(["run", str(proto), "--screenshot", str(tmp_path / "s.jpg")]) == 2
    assert main(["run", str(proto), "--no-gui", "--screenshot-at", "5"]) == 2
    assert main(["run", str(proto), "--screenshot", str(tmp_path / "nodir" / "s.png")]) == 2
    assert not png.exists()
    assert capsys.readouterr().err.count("rig: error: --screenshot") == 4
