"""examples/basimglurant_study.py: the design (groups, animals, seeds), protocols that load, and a
tiny end-to-end run through the multiprocessing pool and the report."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path

import pytest

from rig.protocol.load import load_protocol

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def study():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("basimglurant_study")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_design_has_n_slices_per_group_nested_in_animals(study) -> None:
    conds = study.conditions(8)
    assert len(conds) == 2 * 2 * 4 * 8
    groups = Counter((c.paradigm, c.genotype, c.drug, c.concentration_uM) for c in conds)
    assert len(groups) == 16 and set(groups.values()) == {8}
    assert len({c.seed for c in conds}) == len(conds) and len({c.name for c in conds}) == len(conds)
    per_animal = Counter(c.animal_id for c in conds)
    assert set(per_animal.values()) == {8}  # 2 slices in each of the 4 treatment groups
    assert {c.concentration_uM for c in conds if c.drug == "basimglurant"} == set(study.CONCENTRATIONS_UM)


def test_every_protocol_loads_with_its_metadata(study, tmp_path: Path) -> None:
    drug_phases = study.supports_drug_phases()
    for c in study.conditions(2, concentrations=(0.1,)):
        p = tmp_path / f"{c.name}.toml"
        p.write_text(study.protocol_text(c, study.FULL, drug_phases))
        if c.paradigm == "dhpg" and not drug_phases:
            continue  # chemical phases need the protocol branch
        proto, _ = load_protocol(p)
        assert proto.metadata.genotype == c.genotype and proto.metadata.drug == c.drug
        assert proto.metadata.animal_id == c.animal_id
        assert proto.metadata.concentration_uM == c.concentration_uM


def test_tiny_study_runs_in_a_pool_and_reports(study, tmp_path: Path) -> None:
    timing = study.Timing(wash_in_min=1.0, baseline_min=2.0, follow_up_min=10.5, interval_s=20.0)
    conds = study.conditions(2, paradigms=("tbs",), genotypes=("WT",), concentrations=(0.1,))
    files = study.simulate_all(conds, tmp_path, timing, jobs=2, drug_phases=study.supports_drug_phases())
    assert all(f.is_file() for f in files) and len(files) == 4
    from rig.analysis.report import make_report

    rep = make_report(files, tmp_path / "rep", group_by="genotype,drug", per_experiment=False)
    assert list(rep.groups["group"]) == ["WT · vehicle", "WT · basimglurant 0.1 µM"]
    assert rep.excluded == []
    fig = study.study_figure({"tbs": {"groups": rep.experiments}}, tmp_path / "main.png", baseline_min=2.0)
    assert fig.stat().st_size > 10_000
    again = study.simulate_all(conds, tmp_path, timing, jobs=2)  # resumable: nothing to simulate
    assert again == files
