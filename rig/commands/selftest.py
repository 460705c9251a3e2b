"""`rig selftest`: loopback timing test (AO wired to an AI channel), result stored as JSON."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from drivers.base import Device, DeviceError
from rig.core.errors import RunFailure, UserError
from rig.experiment.runner import eprint
from rig.experiment.selftest import SelftestConfig, format_result, run_selftest
from rig.protocol.rigfile import RigConfig, load_rig


class NoSlice:
    """Nothing on the inputs but the loopback wire: every AI reads 0 V."""

    def __init__(self, n_ai: int) -> None:
        self.n_ai = n_ai

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        return np.zeros((self.n_ai, stim_uA.shape[1]))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="loopback timing test: AO pulses found again on an AI")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--sim", action="store_true", help="simulated device with AO wired to AI")
    p.add_argument("--ao", type=int, default=0, help="AO index (stim entry) sending pulses (0)")
    p.add_argument("--ai", default=None,
                   help="AI channel name or index wired to the AO (default: the last AI)")
    p.add_argument("--pulses", type=int, default=20, help="number of pulses (20)")
    p.add_argument("--interval-ms", type=float, default=100.0, help="pulse interval (100 ms)")
    p.add_argument("--amplitude-V", type=float, default=1.0, help="pulse amplitude (1 V)")
    p.add_argument("--out", type=Path, default=None,
                   help="result file (default recordings/selftest-<time>.json)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(func=run)


def _ai_index(rig: RigConfig, spec: str | None, n_ai: int) -> int:
    if spec is None:
        return n_ai - 1
    names = [a.name for a in rig.ai]
    if spec in names:
        return names.index(spec)
    try:
        i = int(spec)
    except ValueError:
        raise UserError(f"--ai: {spec!r} is neither an AI name ({', '.join(names)}) nor an index") from None
    if not 0 <= i < n_ai:
        raise UserError(f"--ai: index {i} outside 0..{n_ai - 1}")
    return i


def build_device(rig: RigConfig, sim: bool, ao: int, ai_spec: str | None) -> tuple[Device, int]:
    block = max(2, int(round(rig.engine.block_ms / 1000 * rig.sample_rate_hz)))
    if sim or rig.backend == "sim":
        from drivers.sim.device import SimDevice

        names = [a.channel for a in rig.ai]
        if ai_spec is None and len(names) < 2:
            names.append("sim/loopback")  # the sim rig has no spare AI: add the wired one
        ai = _ai_index(rig, ai_spec, len(names))
        dev = SimDevice(NoSlice(len(names)), sample_rate_hz=rig.sample_rate_hz, ai_channels=names,
                        ao_channels=[s.ao for s in rig.stim], do_lines=list(rig.do_lines),
                        ao_uA_per_V=[s.uA_per_V for s in rig.stim], block_samples=block,
                        speed=None, loopback={ao: ai})
        return dev, ai
    from rig.experiment.nidaq_rig import nidaq_device_from_rig

    if len(rig.ai) < 2 and ai_spec is None:
        raise UserError("selftest: the rig has one AI channel; wire AO to a second one and name "
                        "it with --ai")
    ai = _ai_index(rig, ai_spec, len(rig.ai))
    try:
        return nidaq_device_from_rig(rig, block), ai
    except DeviceError as exc:
        raise RunFailure(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    rig, _ = load_rig(args.rig)
    if not 0 <= args.ao < len(rig.stim):
        raise UserError(f"--ao: index {args.ao} outside 0..{len(rig.stim) - 1}")
    if args.pulses < 1 or args.interval_ms <= 0 or not 0 < args.amplitude_V <= 10:
        raise UserError("--pulses ≥ 1, --interval-ms > 0 and 0 < --amplitude-V ≤ 10 required")
    if args.out is not None and args.out.exists():
        raise UserError(f"--out: {args.out} exists (never overwritten)")
    device, ai = build_device(rig, args.sim, args.ao, args.ai)
    cfg = SelftestConfig(ao_index=args.ao, ai_index=ai, n_pulses=args.pulses,
                         interval_s=args.interval_ms / 1000, amplitude_V=args.amplitude_V)
    try:
        result = run_selftest(device, cfg, rig=rig)
    except DeviceError as exc:
        raise RunFailure(f"{exc} — outputs zeroed") from exc
    finally:
        device.close()
    out = args.out or Path("recordings") / f"selftest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {**result.to_dict(), "backend": "sim" if (args.sim or rig.backend == "sim") else "nidaq",
           "device": rig.device, "file": str(out)}
    out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps(doc))
    else:
        print(format_result(result))
    eprint(f"rig: selftest result stored in {out}")
    return 0 if result.passed else 1
