"""`rig selftest`: loopback timing test (AO wired to an AI channel) and, with ``--resistor-kohm``,
the isolator's µA/V measured on its current monitor into a known resistor; result stored as JSON."""

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
from rig.experiment.selftest_resistor import (
    DEFAULT_COMPLIANCE_V,
    DEFAULT_TOLERANCE_PERCENT,
    ResistorLoad,
    resistor_check,
    resistor_pulse,
)
from rig.protocol.rigfile import RigConfig, load_rig


class NoSlice:
    """Nothing on the inputs but the loopback wire: every AI reads 0 V."""

    def __init__(self, n_ai: int) -> None:
        self.n_ai = n_ai

    def respond(self, start: int, stim_uA: np.ndarray, ttl: np.ndarray) -> np.ndarray:
        return np.zeros((self.n_ai, stim_uA.shape[1]))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="loopback timing test (AO pulses found again on an AI); "
                       "--resistor-kohm: isolator µA/V on its current monitor")
    p.add_argument("rigfile", type=Path, nargs="?", default=None, help="rig file (same as --rig)")
    p.add_argument("--rig", type=Path, default=None, help="rig file (default: the simulated rig)")
    p.add_argument("--sim", action="store_true", help="simulated device with AO wired to AI")
    p.add_argument("--ao", type=int, default=None,
                   help="stim entry sending pulses (0; with --resistor-kohm the first with a monitor)")
    p.add_argument("--ai", default=None,
                   help="AI channel name or index wired to the AO (default: the last AI)")
    p.add_argument("--pulses", type=int, default=20, help="number of pulses (20)")
    p.add_argument("--interval-ms", type=float, default=100.0, help="pulse interval (100 ms)")
    p.add_argument("--amplitude-V", type=float, default=1.0, help="pulse amplitude (1 V)")
    p.add_argument("--out", type=Path, default=None,
                   help="result file (default recordings/selftest-<time>.json)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    register_resistor_options(p)
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
    if args.rigfile is not None and args.rig is not None and args.rigfile != args.rig:
        raise UserError(f"two rig files: {args.rigfile} and --rig {args.rig}")
    rig, _ = load_rig(args.rigfile or args.rig)
    if args.resistor_kohm is not None or args.sim_fault:
        return run_resistor(args, rig)
    args.ao = 0 if args.ao is None else args.ao
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


def store_result(doc: dict, out: Path | None) -> Path:
    """Write the result JSON to ``out`` (default recordings/selftest-<time>.json)."""
    out = out or Path("recordings") / f"selftest-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**doc, "file": str(out)}, indent=1), encoding="utf-8")
    return out


def register_resistor_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("µA/V into a known resistor (isolator current monitor; docs/hardware.md)")
    g.add_argument("--resistor-kohm", type=float, default=None, metavar="KOHM",
                   help="resistor across the isolator's output instead of the slice (e.g. 10)")
    g.add_argument("--current-uA", type=float, default=None,
                   help="test current (default: 100 µA or less, within the rig's limits, the monitor's "
                        "range and the compliance)")
    g.add_argument("--tolerance-percent", type=float, default=None,
                   help=f"allowed |measured − rig file| µA/V (default {DEFAULT_TOLERANCE_PERCENT:g} %%)")
    g.add_argument("--compliance-V", type=float, default=DEFAULT_COMPLIANCE_V,
                   help=f"keep I × R below this (default {DEFAULT_COMPLIANCE_V:g} V)")
    g.add_argument("--sim-fault", action="append", default=[], metavar="NAME@MIN",
                   help="simulated rig only: a wiring fault, e.g. range_x10@0 (the range switch on ×10)")


def _resistor_device(rig: RigConfig, args: argparse.Namespace, ao: int, faults: tuple) -> tuple[Device, int | None]:
    """The device for the resistor check (+ the AI of a loopback wire when ``--ai`` names one)."""
    block = max(2, int(round(rig.engine.block_ms / 1000 * rig.sample_rate_hz)))
    names = [a.channel for a in rig.ai]
    ai = None if args.ai is None else _ai_index(rig, args.ai, len(names))
    if args.sim or rig.backend == "sim":
        from drivers.sim.device import SimDevice
        from rig.experiment.wired_sim import n_field_channels, wire_slice

        model = wire_slice(rig, ResistorLoad(n_field_channels(rig)), 0, faults, None)
        dev = SimDevice(model, sample_rate_hz=rig.sample_rate_hz, ai_channels=names, ao_channels=rig.ao_channels(),
                        do_lines=list(rig.do_lines), ao_uA_per_V=rig.ao_uA_per_V(), block_samples=block,
                        speed=None, loopback={} if ai is None else {ao: ai})
        return dev, ai
    if faults:
        raise UserError("--sim-fault: only on the simulated rig (--sim or backend = \"sim\")")
    from rig.experiment.nidaq_rig import nidaq_device_from_rig

    try:
        return nidaq_device_from_rig(rig, block), ai
    except DeviceError as exc:
        raise RunFailure(str(exc)) from exc


def run_resistor(args: argparse.Namespace, rig: RigConfig) -> int:
    """``--resistor-kohm``: µA/V of one isolator on its monitor (+ loopback timing with ``--ai``)."""
    from rig.experiment.selftest import acquire, timing_result
    from rig.experiment.wired_sim import parse_faults

    R = args.resistor_kohm
    if R is None or not 0.01 <= R <= 10_000:
        what = "missing" if R is None else f"{R} outside 0.01..10000 kΩ"
        raise UserError(f"--resistor-kohm: {what} (the test resistor's value, needed for a resistor self-test"
                        " and with --sim-fault)")
    tol = DEFAULT_TOLERANCE_PERCENT if args.tolerance_percent is None else args.tolerance_percent
    if not 0 < tol <= 50 or not 0 < args.compliance_V <= 200:
        raise UserError("--tolerance-percent must be in (0, 50] and --compliance-V in (0, 200]")
    if args.pulses < 1 or args.interval_ms <= 0:
        raise UserError("--pulses ≥ 1 and --interval-ms > 0 required")
    if args.out is not None and args.out.exists():
        raise UserError(f"--out: {args.out} exists (never overwritten)")
    faults = parse_faults(args.sim_fault)
    if args.ao is None:
        mons = {a.pathway for a in rig.ai if a.kind == "monitor"}
        args.ao = next((k for k, s in enumerate(rig.stim) if s.pathway in mons), 0)
    if not 0 <= args.ao < len(rig.stim):
        raise UserError(f"--ao: index {args.ao} outside 0..{len(rig.stim) - 1}")
    pulse = resistor_pulse(rig, args.ao, R, current_uA=args.current_uA, compliance_V=args.compliance_V)
    device, ai = _resistor_device(rig, args, args.ao, faults)
    cfg = SelftestConfig(ao_index=args.ao, ai_index=0 if ai is None else ai, n_pulses=args.pulses,
                         interval_s=args.interval_ms / 1000, width_s=pulse.width_us * 1e-6,
                         amplitude_V=pulse.amplitude_V)
    try:
        acq = acquire(device, cfg, rig)
        timing = timing_result(device, cfg, acq) if ai is not None else None
    except DeviceError as exc:
        raise RunFailure(f"{exc} — outputs zeroed") from exc
    finally:
        device.close()
    check = resistor_check(rig, pulse, acq, R, tol)
    passed = check.passed and (timing is None or timing.passed)
    doc = {"passed": passed, "resistor": check.to_dict(), "timing": timing.to_dict() if timing else None,
           "backend": "sim" if (args.sim or rig.backend == "sim") else "nidaq", "device": rig.device,
           "faults": list(args.sim_fault), "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = store_result(doc, args.out)
    if args.json:
        print(json.dumps({**doc, "file": str(out)}))
    else:
        if timing is not None:
            print(format_result(timing))
        print(check.line())
    eprint(f"rig: selftest result stored in {out}")
    return 0 if passed else 1
