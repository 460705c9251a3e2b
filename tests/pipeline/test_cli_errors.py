"""Bad input: exit 2 with one clear line naming the file and field, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rig.cli import main


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "no/such/protocol.toml", "--no-gui"], "no/such/protocol.toml"),
        (["run"], "protocol"),
        (["run", "x.toml", "--speed", "fast"], "--speed"),
        (["summary", "missing.h5"], "missing.h5"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_arguments_exit_2_one_line(args, needle, capsys):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert needle in err
    assert "Traceback" not in err


def test_invalid_protocol_field_names_file_line_and_field(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text('[experiment]\nname = "x"\n\n[[phases]]\nkind = "baseline"\nduration_min = -3\ninterval_s = 20\n')
    assert main(["run", str(p), "--no-gui", "--out", str(tmp_path / "o.h5")]) == 2
    err = capsys.readouterr().err
    assert f"{p}:6" in err and "duration_min" in err
    assert not (tmp_path / "o.h5").exists()


def test_unknown_key_is_an_error(tmp_path, capsys):
    p = tmp_path / "typo.toml"
    p.write_text('[experiment]\nname = "x"\n\n[[phases]]\nkind = "baseline"\nduration_min = 3\nintervall_s = 20\n')
    assert main(["check", str(p)]) == 2
    assert "intervall_s" in capsys.readouterr().err


def test_not_a_recording(tmp_path, capsys):
    p = tmp_path / "junk.h5"
    p.write_bytes(b"\x00garbage" * 100)
    assert main(["summary", str(p)]) == 2
    err = capsys.readouterr().err
    assert "junk.h5" in err and len(err.strip().splitlines()) == 1


def test_version_and_console_script():
    r = subprocess.run([sys.executable, "-m", "rig.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("rig ")
