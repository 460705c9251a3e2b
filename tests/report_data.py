"""Small simulated data sets for the report tests (simple slice, speed=None: ~2 s per recording)."""

from __future__ import annotations

import re
from pathlib import Path

from rig.experiment.runner import RunOptions, run_experiment

# The default simulated rig with the simple slice (predictable: TBS potentiates, test pulses alone
# stay at baseline) and 0.5 s blocks (same sample-exact contract, fewer Python round trips).
FAST_RIG = re.sub(r'(?m)^model = "\w+"', 'model = "simple"',
                  (Path(__file__).resolve().parents[1] / "rig" / "data" / "sim_rig.toml").read_text()
                  .replace("block_ms = 50.0", "block_ms = 500.0").replace("horizon_ms = 300.0", "horizon_ms = 1000.0"))
assert 'model = "simple"' in FAST_RIG

INDUCTION = """
[[phases]]
kind = "induction"
name = "TBS"
pattern = "tbs"
pathway = "S1"
pulses_per_burst = 4
intra_burst_hz = 100.0
bursts = 10
burst_interval_ms = 200.0
trains = 3
train_interval_s = 10.0
"""


def protocol_text(name: str, meta: dict, *, induction: bool = True, baseline_min: float | None = 5.0,
                  follow_min: float = 12.0) -> str:
    """A short protocol: baseline at 10 s intervals, optional 3 × TBS, follow-up at 10 s intervals."""
    lines = [f'[experiment]\nname = "{name}"\n', "[metadata]"]
    for k, v in meta.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    lines.append('\n[stimulation]\npathways = ["S1"]\nintensity_uA = [100.0]\n')
    if baseline_min:
        lines.append(f'[[phases]]\nkind = "baseline"\nname = "baseline"\nduration_min = {baseline_min}\n'
                     'interval_s = 10.0\n')
    if induction:
        lines.append(INDUCTION)
    lines.append(f'[[phases]]\nkind = "follow_up"\nname = "follow-up"\nduration_min = {follow_min}\n'
                 'interval_s = 10.0\n')
    return "\n".join(lines)


def simulate(dirpath: Path, name: str, meta: dict, seed: int, **kw: object) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    proto = dirpath / f"{name}.toml"
    proto.write_text(protocol_text("TBS short" if kw.get("induction", True) else "Baseline short", meta, **kw))
    rig = dirpath / "fast_rig.toml"
    if not rig.exists():
        rig.write_text(FAST_RIG)
    return run_experiment(RunOptions(protocol=proto, rig=rig, out=dirpath / f"{name}.h5", seed=seed)).path
