#!/usr/bin/env python3
"""The seed's study, simulated: does the mGluR5 NAM basimglurant normalise plasticity in Fmr1-KO?

Design: WT and Fmr1-KO slices; vehicle vs basimglurant at ≥ 3 concentrations (washed in before the
baseline and kept on); two paradigms — TBS-LTP (one TBS train: the mGluR5-dependent form) and
DHPG-LTD (100 µM, 5 min); n slices per group (default 8) from animals that each give slices to
several groups (metadata: genotype, drug, concentration_uM, animal_id, slice_id). Every recording
is simulated by ``rig.experiment.runner.run_experiment`` (as fast as possible, on Dask: ``--jobs``
worker processes or ``--scheduler tcp://HOST:PORT``), then
``rig.analysis.report.make_report`` builds one report per paradigm, grouped by genotype × drug, and a main
figure combines them.

    python examples/basimglurant_study.py --out study            # full: 2 × 2 × 4 × 8 = 128 recordings
    python examples/basimglurant_study.py --quick --n 3 --out s  # short phases, 3 slices per group

Recordings already present in OUT/recordings are reused (the study can be resumed).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

PARADIGMS = ("tbs", "dhpg")
GENOTYPES = ("WT", "Fmr1-KO")
CONCENTRATIONS_UM = (0.001, 0.01, 0.1)  # basimglurant: K_d ≈ 1 nM (Lindemann et al. 2015)
SLICES_PER_GROUP_PER_ANIMAL = 2  # each animal gives 2 slices to every treatment group of its genotype


@dataclass(frozen=True)
class Timing:
    wash_in_min: float
    baseline_min: float
    follow_up_min: float
    interval_s: float


FULL = Timing(wash_in_min=20.0, baseline_min=20.0, follow_up_min=60.0, interval_s=20.0)
QUICK = Timing(wash_in_min=10.0, baseline_min=5.0, follow_up_min=15.0, interval_s=20.0)


@dataclass(frozen=True)
class Condition:
    paradigm: str  # tbs | dhpg
    genotype: str
    drug: str  # vehicle | basimglurant
    concentration_uM: float | None
    slice_no: int  # 0 .. n-1 within the group
    animal_id: str
    seed: int

    @property
    def name(self) -> str:
        conc = "" if self.concentration_uM is None else f"_{self.concentration_uM * 1000:g}nM"
        return f"{self.paradigm}_{self.genotype}_{self.drug}{conc}_s{self.slice_no + 1:02d}"


def conditions(n: int, paradigms=PARADIGMS, genotypes=GENOTYPES, concentrations=CONCENTRATIONS_UM,
               base_seed: int = 1000) -> list[Condition]:
    """Every slice of the study. Slice k of every group of a genotype comes from animal k // 2 of that
    genotype and paradigm: each animal gives 2 slices to each treatment group (8 slices with 3
    concentrations), so slices are nested in animals and animals are crossed with treatment."""
    treatments: list[tuple[str, float | None]] = [("vehicle", None)] + [("basimglurant", c) for c in concentrations]
    out = []
    seed = base_seed
    for paradigm in paradigms:
        for genotype in genotypes:
            for drug, conc in treatments:
                for k in range(n):
                    animal = f"{paradigm}-{genotype}-m{k // SLICES_PER_GROUP_PER_ANIMAL + 1}"
                    out.append(Condition(paradigm, genotype, drug, conc, k, animal, seed))
                    seed += 1
    return out


def has_realistic_slice() -> bool:
    """Whether this build has the realistic virtual slice (drivers.sim.slice: plasticity, drugs, genotypes)."""
    import importlib.util

    return importlib.util.find_spec("drivers.sim.slice") is not None


def study_rig(out: Path, realistic: bool) -> Path:
    """The default simulated rig with the realistic slice (when present) and 0.5 s blocks (the same
    sample-exact contract, fewer Python round trips when simulating as fast as possible)."""
    from importlib import resources

    text = resources.files("rig.data").joinpath("sim_rig.toml").read_text()
    text = re.sub(r'(?m)^model = "\w+"', f'model = "{"realistic" if realistic else "simple"}"', text)
    text = text.replace("block_ms = 50.0", "block_ms = 500.0").replace("horizon_ms = 300.0", "horizon_ms = 1000.0")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "study_rig.toml"
    path.write_text(text)
    return path


def supports_drug_phases() -> bool:
    """Whether this build's protocol loader knows ``drug`` and ``chemical`` phases."""
    import tempfile

    from rig.core.errors import UserError
    from rig.protocol.load import load_protocol

    c = Condition("dhpg", "WT", "basimglurant", 0.1, 0, "probe", 0)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "probe.toml"
        p.write_text(protocol_text(c, QUICK))
        try:
            load_protocol(p)
        except UserError:
            return False
    return True


def protocol_text(c: Condition, t: Timing, drug_phases: bool = True) -> str:
    """The protocol file of one slice (TOML)."""
    conc = "" if c.concentration_uM is None else f"concentration_uM = {c.concentration_uM:g}\n"
    head = (f'[experiment]\nname = "{c.paradigm.upper()} study"\n'
            f'description = "basimglurant study, {c.paradigm}, {c.genotype}, {c.drug}"\n\n'
            f'[metadata]\ngenotype = "{c.genotype}"\ndrug = "{c.drug}"\n{conc}animal_id = "{c.animal_id}"\n'
            f'slice_id = "{c.name}"\n\n[stimulation]\npathways = ["S1"]\nintensity_uA = [100.0]\n\n')
    phases = []
    if c.drug == "basimglurant" and drug_phases:
        phases.append(f'[[phases]]\nkind = "drug"\nname = "basimglurant wash-in"\ndrug = "basimglurant"\n'
                      f"concentration_uM = {c.concentration_uM:g}\nwash_in_min = {t.wash_in_min:g}\n"
                      f'valve = "drug_A"\ninterval_s = {t.interval_s:g}\n')
    else:  # vehicle (or no drug phases in this build): the same time in the chamber with test pulses
        phases.append(f'[[phases]]\nkind = "baseline"\nname = "{c.drug} wash-in"\nduration_min = {t.wash_in_min:g}\n'
                      f"interval_s = {t.interval_s:g}\n")
    phases.append(f'[[phases]]\nkind = "baseline"\nname = "baseline"\nduration_min = {t.baseline_min:g}\n'
                  f"interval_s = {t.interval_s:g}\n")
    if c.paradigm == "tbs":
        phases.append('[[phases]]\nkind = "induction"\nname = "TBS"\npattern = "tbs"\npathway = "S1"\n'
                      "pulses_per_burst = 4\nintra_burst_hz = 100.0\nbursts = 10\nburst_interval_ms = 200.0\n"
                      "trains = 1\n")
    else:
        phases.append('[[phases]]\nkind = "chemical"\nname = "DHPG"\ndrug = "DHPG"\nconcentration_uM = 100\n'
                      f'duration_min = 5\nvalve = "drug_B"\ninterval_s = {t.interval_s:g}\n')
    phases.append(f'[[phases]]\nkind = "follow_up"\nname = "follow-up"\nduration_min = {t.follow_up_min:g}\n'
                  f"interval_s = {t.interval_s:g}\n")
    return head + "\n".join(phases)


def simulate_all(conds: list[Condition], out: Path, timing: Timing, jobs: int = 2,
                 rig: Path | None = None, drug_phases: bool = True, scheduler: str | None = None) -> list[Path]:
    """Write every protocol and simulate the recordings that do not exist yet, on Dask (a LocalCluster
    of ``jobs`` worker processes, or the cluster at ``scheduler``)."""
    (out / "protocols").mkdir(parents=True, exist_ok=True)
    (out / "recordings").mkdir(parents=True, exist_ok=True)
    todo, files = [], []
    for c in conds:
        proto = out / "protocols" / f"{c.name}.toml"
        proto.write_text(protocol_text(c, timing, drug_phases))
        h5 = out / "recordings" / f"{c.name}.h5"
        files.append(h5)
        if not h5.exists():
            todo.append((str(proto), str(h5), c.seed, str(rig) if rig else None))
    t0 = time.perf_counter()
    if todo:
        # dask.distributed: a LocalCluster of single-threaded worker processes (or a lab's cluster:
        # --scheduler tcp://HOST:PORT); a worker that dies costs only its recordings (rescheduled)
        from rig.study import execute
        from rig.study.simulate import simulate_recording

        client, cluster = execute.connect(scheduler, max(1, jobs))
        try:
            for f, wall, err in execute.run_dask(simulate_recording, todo, client, label="recordings"):
                if err:
                    print(f"{Path(f).name}: FAILED {err} ({wall:.1f} s)", file=sys.stderr, flush=True)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    print(f"simulated {len(todo)} recordings in {time.perf_counter() - t0:.0f} s ({len(files) - len(todo)} reused)",
          file=sys.stderr)
    return files


def study_figure(reports: dict, path: Path, bin_min: float = 2.0, baseline_min: float | None = None,
                 dpi: float | None = None) -> Path:
    """Main figure: per paradigm, time courses (WT and Fmr1-KO, vehicle vs the highest concentration;
    ``bin_min`` bins, from ``baseline_min`` before the induction) and per-slice magnitudes of every group."""
    import matplotlib.pyplot as plt

    from rig.analysis.report import figures
    from rig.analysis.report.timecourse import all_group_timecourses

    rows = [p for p in PARADIGMS if p in reports]
    with plt.rc_context(figures.STYLE):
        fig, axes = plt.subplots(len(rows), 2, figsize=(figures.DOUBLE_COL_IN, 3.4 * len(rows)),
                                 width_ratios=[1.3, 1.0], layout="constrained", squeeze=False)
        for r, paradigm in enumerate(rows):
            groups = reports[paradigm]["groups"]
            names = list(groups)
            top = [n for n in names if "vehicle" in n] + [n for n in names if n.endswith(max_conc_label(names))]
            sub = {n: groups[n] for n in names if n in top}
            styles = figures.group_styles(names)
            figures.plot_group_timecourse(axes[r, 0], sub, all_group_timecourses(sub, bin_min), styles)
            if baseline_min:
                axes[r, 0].set_xlim(left=-baseline_min - bin_min / 2)
            figures.plot_magnitudes(axes[r, 1], groups, styles)
            title = "TBS-LTP (1 train)" if paradigm == "tbs" else "DHPG-LTD (100 µM, 5 min)"
            axes[r, 0].set_title(title, loc="left", fontweight="bold")
            for c, letter in enumerate("ab" if r == 0 else "cd"):
                axes[r, c].text(-0.13, 1.04, letter, transform=axes[r, c].transAxes, fontweight="bold", fontsize=10)
        figures.save(fig, path, dpi)
    return path


def max_conc_label(names: list[str]) -> str:
    """The label suffix of the highest basimglurant concentration among group names."""
    concs = []
    for n in names:
        if "basimglurant" in n:
            try:
                concs.append((float(n.split("basimglurant ")[1].split(" ")[0]), n.split("basimglurant ")[1]))
            except (IndexError, ValueError):
                pass
    return max(concs)[1] if concs else "\0"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="slices per group (default 8)")
    ap.add_argument("--quick", action="store_true", help="short phases (10 min wash-in, 5 min baseline, 15 min "
                    "follow-up) instead of 20/20/60 min")
    ap.add_argument("--out", type=Path, default=Path("study"), help="output directory")
    ap.add_argument("--jobs", type=int, default=2, help="LocalCluster worker processes (default 2)")
    ap.add_argument("--scheduler", default=None, help="a Dask scheduler (tcp://HOST:PORT) instead of a LocalCluster")
    ap.add_argument("--paradigms", nargs="+", choices=PARADIGMS, default=list(PARADIGMS))
    ap.add_argument("--genotypes", nargs="+", choices=GENOTYPES, default=list(GENOTYPES))
    ap.add_argument("--concentrations", nargs="+", type=float, default=list(CONCENTRATIONS_UM),
                    help="basimglurant, µM")
    ap.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    ap.add_argument("--format", choices=("png", "pdf", "svg"), default="png")
    ap.add_argument("--figure", type=Path, default=None,
                    help="also save the main figure here at 150 dpi (e.g. docs/img/basimglurant_study.png)")
    ap.add_argument("--no-experiments", action="store_true", help="skip per-slice figures in the reports")
    args = ap.parse_args(argv)
    if args.n < 2:
        ap.error("--n: at least 2 slices per group")

    from rig.analysis.report import make_report

    timing = QUICK if args.quick else FULL
    paradigms = list(args.paradigms)
    drug_phases = supports_drug_phases()
    if not drug_phases:
        print("WARNING: this build's protocols have no drug/chemical phases: basimglurant is a metadata label "
              "only (no drug reaches the simulated slice) and the DHPG-LTD paradigm is skipped.", file=sys.stderr)
        paradigms = [p for p in paradigms if p != "dhpg"]
    realistic = has_realistic_slice()
    if not realistic and args.rig is None:
        print("WARNING: this build has no realistic virtual slice (drivers.sim.slice): the simple slice ignores "
              "genotype and drugs, so every group should look alike.", file=sys.stderr)
    rig = args.rig or study_rig(args.out, realistic)
    conds = conditions(args.n, paradigms, args.genotypes, args.concentrations)
    files = simulate_all(conds, args.out, timing, args.jobs, rig, drug_phases, args.scheduler)
    reports = {}
    for paradigm in paradigms:
        mine = [f for f, c in zip(files, conds, strict=True) if c.paradigm == paradigm]
        rep = make_report(mine, args.out / f"report_{paradigm}", group_by="genotype,drug", fmt=args.format,
                          per_experiment=not args.no_experiments,
                          title=f"basimglurant study: {paradigm.upper()}" + (" (quick)" if args.quick else ""))
        reports[paradigm] = {"groups": rep.experiments}
        print(f"\n{paradigm.upper()}  ({rep.files['html']})")
        for r in rep.groups.itertuples():
            print(f"  {r.group:<34} n = {r.n_slices:>2}   {r.mean_pct:6.1f} ± {r.sem_pct:4.1f} % of baseline")
        for e in rep.excluded:
            print(f"  excluded: {e.path.name}: {e.reason}")
    fig = study_figure(reports, args.out / f"study_main.{args.format}", baseline_min=timing.baseline_min)
    print(f"\nmain figure: {fig}")
    if args.figure:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        study_figure(reports, args.figure, baseline_min=timing.baseline_min, dpi=150)  # web size
        print(f"also saved: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
