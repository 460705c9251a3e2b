"""A rig file whose output horizon cannot keep up passed `rig check` and silently lost stimuli
(issue 17: `horizon_ms` 20–99 at max speed, or `block_ms` larger than `horizon_ms`)."""

import subprocess
import sys
from pathlib import Path

import pytest

from rig.protocol.rigfile import default_rig_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("horizon, block", [(50.0, 50.0), (99.0, 20.0), (300.0, 400.0), (150.0, 50.0)])
def test_rig_check_refuses_a_horizon_that_cannot_keep_up(tmp_path, horizon, block):
    rig = tmp_path / "rig.toml"
    text = default_rig_text()
    assert "horizon_ms = 300.0" in text and "block_ms = 50.0" in text
    rig.write_text(text.replace("horizon_ms = 300.0", f"horizon_ms = {horizon}")
                   .replace("block_ms = 50.0", f"block_ms = {block}"))
    r = subprocess.run([sys.executable, "-m", "rig.cli", "check", str(ROOT / "protocols" / "tbs_ltp.toml"),
                        "--rig", str(rig)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout
    assert "horizon_ms" in r.stderr and str(rig) in r.stderr and "Traceback" not in r.stderr


def test_the_shipped_rig_horizon_passes(tmp_path):
    r = subprocess.run([sys.executable, "-m", "rig.cli", "check", str(ROOT / "protocols" / "tbs_ltp.toml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
