"""Closed-loop settings written in a protocol reach the controller; --sim overrides a hardware rig."""

from __future__ import annotations

from rig.cli import main
from rig.experiment.runner import RunOptions, prepare
from rig.protocol.load import expand, load_protocol
from rig.protocol.rigfile import load_rig
from tests.conftest import write_short_tbs

TRACKING = """
[tracking]
every_sweeps = 4
max_step_uA = 5.0
"""


def test_tracking_table_maps_to_plan(tmp_path):
    p = write_short_tbs(tmp_path)
    p.write_text(p.read_text().replace("[stimulation]", TRACKING + "\n[stimulation]"))
    proto, _ = load_protocol(p)
    rig, _ = load_rig(None)
    plan = expand(proto, rig, str(p))
    t = plan.closed_loop["tracking"]
    assert t["enabled"] is True and t["every_sweeps"] == 4 and t["max_step_uA"] == 5.0


def test_tracking_typo_is_an_error(tmp_path, capsys):
    p = write_short_tbs(tmp_path)
    p.write_text(p.read_text().replace("[stimulation]", "[tracking]\nevery_sweep = 4\n\n[stimulation]"))
    assert main(["check", str(p)]) == 2
    assert "tracking.every_sweep" in capsys.readouterr().err


def test_species_in_metadata(tmp_path):
    p = write_short_tbs(tmp_path)
    p.write_text(p.read_text().replace("[stimulation]", '[metadata]\nspecies = "Rattus norvegicus"\n\n[stimulation]'))
    plan, *_ = prepare(RunOptions(protocol=p))
    assert plan.metadata["species"] == "Rattus norvegicus"


def test_sim_flag_overrides_a_hardware_rig(tmp_path):
    from rig.protocol.rigfile import default_rig_text

    rig = tmp_path / "rig.toml"
    rig.write_text(default_rig_text().replace('backend = "sim"', 'backend = "nidaq"'))
    p = write_short_tbs(tmp_path)
    _, cfg, _, _ = prepare(RunOptions(protocol=p, rig=rig, force_sim=True))
    assert cfg.backend == "sim"
    _, cfg, _, _ = prepare(RunOptions(protocol=p, rig=rig))
    assert cfg.backend == "nidaq"
