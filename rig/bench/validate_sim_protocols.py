"""The shipped protocol file of every ``rig validate-sim`` row (``protocols/``), and how the row differs.

``rig validate-sim`` builds each row's plan in code (:func:`rig.bench.validate_sim.build_plan`: 10 kHz,
test intensity at 40 % of the slice's maximal fEPSP, drugs as the row says); the file is the same
experiment for ``rig run``. ``note`` says where the two differ (time point read, drug timing, genotype).
"""

from __future__ import annotations

ROW_PROTOCOLS: dict[str, tuple[str, str]] = {
    "DHPG 100 µM 5 min, WT": ("dhpg_ltd.toml", "validate-sim reads 60 min after the DHPG onset"),
    "DHPG 100 µM 5 min, Fmr1-KO": ("dhpg_ltd.toml", "--meta genotype=Fmr1-KO"),
    "DHPG 100 µM, mGluR5-KO": ("dhpg_ltd.toml", "--meta genotype=mGluR5-KO"),
    "DHPG 100 µM, WT + basimglurant 100 nM": ("basimglurant_dhpg.toml", ""),
    "TBS 3 trains": ("tbs_ltp.toml", ""),
    "TBS 1 train": ("tbs1_ltp.toml", ""),
    "TBS 1 train + MPEP 40 µM": ("mpep_tbs.toml", "validate-sim perfuses MPEP from the baseline start, the "
                                 "file 20 min before it"),
    "TBS 3 trains + MPEP 40 µM": ("mpep_tbs_late.toml", "the 60 min point (the file runs 3 h)"),
    "HFS 2 × 100 Hz 1 s, 40 min": ("hfs2_ltp.toml", ""),
    "LFS 900 @ 1 Hz": ("lfs_ltd.toml", ""),
    "no induction, 90 min": ("baseline_only.toml", "validate-sim follows 70 min, the file 61 min"),
    "two-pathway TBS: S1": ("two_pathway_tbs.toml", ""),
    "two-pathway TBS: S2": ("two_pathway_tbs.toml", ""),
    "HFS 1 × 100 Hz 1 s, WT": ("hfs_ltp.toml", ""),
    "HFS 1 × 100 Hz 1 s, mGluR5-KO": ("mglur5ko_hfs.toml", ""),
    "TBS 3 trains, 20 min": ("tbs_ltp_3h.toml", "the 20 min point"),
    "TBS 3 trains + MPEP 40 µM, 20 min": ("mpep_tbs_late.toml", "the 20 min point"),
    "TBS 3 trains, 3 h": ("tbs_ltp_3h.toml", ""),
    "TBS 3 trains + MPEP 40 µM, 3 h": ("mpep_tbs_late.toml", "validate-sim perfuses MPEP from the baseline start"),
    "TBS 3 trains + anisomycin 25 µM": ("anisomycin_tbs_3h.toml", "the 60 min point; validate-sim has the drug "
                                       "in the bath from the start"),
    "TBS 3 trains + anisomycin 25 µM, 3 h": ("anisomycin_tbs_3h.toml", "validate-sim has the drug in the bath "
                                             "from the start"),
    "LFS 900 @ 1 Hz + MPEP 40 µM": ("mpep_lfs.toml", "vehicle mpep_lfs_vehicle.toml; validate-sim perfuses MPEP "
                                    "from the baseline start"),
    "LFS 900 @ 1 Hz, 2 h": ("lfs_ltd_2h.toml", ""),
    "DHPG 100 µM, Fmr1-KO + basimglurant 3 nM pre-incubated 3 h": ("basimglurant_dhpg_fmr1.toml", ""),
    "900 pulses @ 0.5 Hz": ("lfs_900_0p5hz.toml", ""),
    "900 pulses @ 3 Hz": ("lfs_900_3hz.toml", ""),
    "900 pulses @ 10 Hz": ("lfs_900_10hz.toml", ""),
    "900 pulses @ 50 Hz": ("lfs_900_50hz.toml", ""),
    "TBS 3 trains, 2 h": ("tbs_ltp_2h.toml", ""),
    "TBS 3 trains, again at 60 min; 2 h": ("tbs_occlusion.toml", ""),
    "DHPG 50 µM 5 min, WT": ("dhpg50_ltd.toml", ""),
    "DHPG 50 µM 5 min, Fmr1-KO": ("dhpg50_ltd.toml", "--meta genotype=Fmr1-KO"),
}
