#!/usr/bin/env python3
"""Fixed or auto windows on the simulated slice: which reads closer to the slice's own LTP / LTD?

For each protocol and seed, three recordings through ``rig run`` (simulator, ``--speed max``):
``auto`` (``[analysis] auto_windows = true``), ``fixed`` (``auto_windows = false``) and ``truth``:
the same slice (same seed) with its wide-band noise, line pickup and drift set to zero, measured with
the fixed windows (without noise every sensible window reads the same, docs/analysis.md). The error
of a recording is its % of baseline minus the truth's, per pathway.

    python examples/auto_windows_study.py --out /tmp/aw --seeds 8      # 3 protocols × 8 seeds × 3 runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))
STUDY = (("tbs_ltp", (0,)), ("lfs_ltd", (0,)), ("two_pathway_tbs", (0, 1)))


def with_auto(text: str, on: bool) -> str:
    """The protocol text with ``[analysis] auto_windows`` set."""
    line = f"auto_windows = {'true' if on else 'false'}\n"
    if re.search(r"^\[analysis\]\n", text, re.M):
        return re.sub(r"^\[analysis\]\n", "[analysis]\n" + line, text, count=1, flags=re.M)
    return text.replace("[stimulation]", f"[analysis]\n{line}\n[stimulation]", 1)


def run_one(protocol: Path, seed: int, variant: str, out: Path) -> int:
    """One recording (in this process: ``truth`` silences the slice's noise before the run)."""
    proto = out.with_suffix(".toml")
    proto.write_text(with_auto(protocol.read_text(), variant == "auto"))
    if variant == "truth":
        import drivers.sim.slice as slice_mod
        import drivers.sim.slice_params as params

        draw = params.draw_slice_params

        def quiet(*a, **k):
            return dataclasses.replace(draw(*a, **k), noise_uV=0.0, line_uV=0.0, drift_uV=0.0)

        params.draw_slice_params = slice_mod.draw_slice_params = quiet
    from rig.cli import main

    return main(["run", str(proto), "--sim", "--speed", "max", "--seed", str(seed), "--no-gui", "--out", str(out)])


def percent(path: Path, pathway: int) -> tuple[float, float]:
    """(% of baseline, baseline slope mV/ms) of one pathway, from ``rig summary --json``."""
    r = subprocess.run([sys.executable, "-m", "rig.cli", "summary", str(path), "--json"], capture_output=True,
                       text=True, check=True, cwd=REPO)
    p = json.loads(r.stdout)["per_pathway"][str(pathway)]
    return p["ltp_percent"], p["baseline_slope_mV_per_ms"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="directory for the recordings (those present are reused)")
    ap.add_argument("--seeds", type=int, default=8, help="seeds 1..N per protocol")
    ap.add_argument("--one", nargs=4, metavar=("PROTOCOL", "SEED", "VARIANT", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        return run_one(Path(a.one[0]), int(a.one[1]), a.one[2], Path(a.one[3]))
    if a.out is None:
        ap.error("--out DIR is required")
    a.out.mkdir(parents=True, exist_ok=True)
    for name, pathways in STUDY:
        files = {}
        for seed in range(1, a.seeds + 1):
            for v in ("auto", "fixed", "truth"):
                f = a.out / f"{name}_{seed}_{v}.h5"
                if not f.exists():
                    subprocess.run([sys.executable, __file__, "--one", str(REPO / "protocols" / f"{name}.toml"),
                                    str(seed), v, str(f)], check=True, capture_output=True, cwd=REPO)
                files[seed, v] = f
        for pw in pathways:
            err: dict[str, list[float]] = {"fixed": [], "auto": []}
            print(f"{name} S{pw + 1}")
            for seed in range(1, a.seeds + 1):
                truth, _ = percent(files[seed, "truth"], pw)
                fixed, base = percent(files[seed, "fixed"], pw)
                auto, _ = percent(files[seed, "auto"], pw)
                err["fixed"].append(fixed - truth)
                err["auto"].append(auto - truth)
                print(f"  seed {seed}: truth {truth:6.1f}  fixed {fixed:6.1f} ({fixed - truth:+5.1f})  "
                      f"auto {auto:6.1f} ({auto - truth:+5.1f})  baseline {base:.3f} mV/ms")
            mae = {k: statistics.mean(abs(x) for x in v) for k, v in err.items()}
            d = [x - y for x, y in zip(err["auto"], err["fixed"], strict=True)]
            print(f"  mean |error|: fixed {mae['fixed']:.2f}, auto {mae['auto']:.2f} points; "
                  f"auto − fixed per seed {min(d):+.1f} … {max(d):+.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
