"""`rig analyze INPUT`: re-analyse a recording (LTP Rig HDF5 or Axon ABF1/ABF2) offline.

Every sweep is measured by the same detector the engine uses online. Windows: the defaults, or
those stored with the recording, or (``--auto``) proposed from the average of the first sweeps;
then each ``--window NAME=START_MS:END_MS`` override. ``--pathways N``: sweep i belongs to pathway
i mod N (WinLTP/Clampex alternation); otherwise the pathway recorded in the file (ABF: 0).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from rig import detector
from rig.analysis.abf_input import SweepSource, open_input
from rig.core.errors import UserError
from rig.detector.proposal import average_sweeps, propose_windows

METHODS = tuple(detector.SLOPE_FIELD)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="re-analyse a recording (LTP Rig HDF5 or Axon ABF)")
    p.add_argument("input", type=Path, help="recording: .h5 made by LTP Rig, or .abf (ABF1/ABF2)")
    p.add_argument("--channel", type=int, default=None,
                   help="recorded channel (default: the first field-potential channel)")
    p.add_argument("--pathways", type=int, default=None, metavar="N",
                   help="sweep i belongs to pathway i mod N (alternating pathways)")
    p.add_argument("--window", action="append", default=[], metavar="NAME=START_MS:END_MS",
                   help=f"override a window ({', '.join(detector.WINDOW_NAMES)}); repeatable")
    p.add_argument("--method", choices=METHODS, default="regression", help="fEPSP slope method")
    p.add_argument("--auto", type=int, nargs="?", const=10, default=None, metavar="N",
                   help="propose windows from the average of the first N sweeps (default 10)")
    p.add_argument("--stim-ms", type=float, default=None,
                   help="ABF: stimulus time in each sweep (ms) when the file does not say")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run)


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def resolve_windows(src: SweepSource, overrides: list[str], auto: int | None) -> tuple[detector.Windows, list[str]]:
    """Defaults ← stored windows ← --auto ← --window overrides."""
    notes: list[str] = []
    w = detector.Windows()
    if src.windows:
        try:
            w = detector.Windows.from_dict(src.windows)
            notes.append("windows stored with the recording")
        except (TypeError, ValueError) as exc:
            notes.append(f"stored windows ignored ({exc})")
    if auto:
        sel = range(src.n_sweeps) if src.pathways is None else np.flatnonzero(src.pathways == src.pathways[0])
        sel = list(sel)[:auto]
        if not sel:
            raise UserError(f"{src.source}: --auto: no sweeps to average")
        avg, stim = average_sweeps([src.get_sweep(i) for i in sel], [int(src.get_pulses(i)[0]) for i in sel], auto)
        proposal = propose_windows(avg, stim, src.sample_rate_hz, w)
        if proposal.ok:
            w = proposal.windows
            notes.append(f"windows proposed from the average of {len(sel)} sweeps")
        else:
            notes.append(f"--auto: {proposal.message}; default windows kept")
    for spec in overrides:
        try:
            w = w.override(spec)
        except ValueError as exc:
            raise UserError(f"--window {exc}") from None
    return w, notes


def analyze(src: SweepSource, windows: detector.Windows, method: str, pathways: int | None) -> list[dict]:
    """One dict per sweep (first pulse; ``paired_pulse_ratio`` when the sweep has ≥ 2 pulses)."""
    field = detector.SLOPE_FIELD[method]
    detector.warm_up()
    rows = []
    for i in range(src.n_sweeps):
        pulses = np.asarray(src.get_pulses(i), dtype=np.int64)
        rec = detector.measure_pulses(src.get_sweep(i), pulses, src.sample_rate_hz, windows, src.clip_mV)
        if pathways:
            pw = i % pathways
        elif src.pathways is not None:
            pw = int(src.pathways[i])
        else:
            pw = 0
        r = rec[0] if rec.size else np.zeros(1, detector.MEASUREMENT_DTYPE)[0]
        row = {
            "index": i,
            "pathway": pw,
            "time_s": _num(src.times_s[i]) if i < len(src.times_s) else None,
            "slope_mV_per_ms": _num(r[field]),
            "amplitude_mV": _num(r["amplitude_mV"]),
            "fiber_volley_mV": _num(r["volley_mV"]),
            "pop_spike_mV": _num(r["pop_spike_mV"]),
            "flags": int(r["flags"]),
        }
        if rec.size >= 2:
            row["paired_pulse_ratio"] = _num(detector.paired_pulse_ratio(rec, field))
        rows.append(row)
    return rows


def pathway_stats(rows: list[dict]) -> dict[int, dict]:
    """Per pathway: n and mean ± SD of slope and amplitude over sweeps where each is measured."""
    out: dict[int, dict] = {}
    for pw in sorted({r["pathway"] for r in rows}):
        stats = {"sweeps": sum(r["pathway"] == pw for r in rows)}
        for key in ("slope_mV_per_ms", "amplitude_mV"):
            v = np.array([r[key] for r in rows if r["pathway"] == pw and r[key] is not None], dtype=float)
            stats[key] = {
                "n": int(v.size),
                "mean": _num(v.mean()) if v.size else None,
                "sd": _num(v.std(ddof=1)) if v.size > 1 else None,
            }
        out[pw] = stats
    return out


def _fmt(v: float | None, spec: str = "8.4f") -> str:
    return format(v, spec) if v is not None else format("—", ">" + spec.split(".")[0])


def format_text(doc: dict, stats: dict[int, dict]) -> str:
    lines = [
        f"{doc['source']}  ({doc['sample_rate_hz']:.0f} Hz, slope: {doc['method']}, {len(doc['sweeps'])} sweeps)",
        "windows (ms): " + ", ".join(f"{k} {v[0]:g}–{v[1]:g}" for k, v in doc["windows"].items()
                                      if isinstance(v, list)),
    ]
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    lines.append(f"{'sweep':>5} {'path':>4} {'time_s':>8} {'slope':>8} {'amp_mV':>8} {'FV_mV':>8} {'PS_mV':>8}  flags")
    for r in doc["sweeps"]:
        lines.append(
            f"{r['index']:>5} {r['pathway']:>4} {_fmt(r['time_s'], '8.1f')} {_fmt(r['slope_mV_per_ms'])} "
            f"{_fmt(r['amplitude_mV'])} {_fmt(r['fiber_volley_mV'])} {_fmt(r['pop_spike_mV'])}  "
            f"{','.join(detector.flag_names(r['flags'])) or '-'}"
        )
    for pw, s in stats.items():
        parts = []
        for key, unit in (("slope_mV_per_ms", "mV/ms"), ("amplitude_mV", "mV")):
            st = s[key]
            if st["mean"] is None:
                parts.append(f"{key.split('_')[0]} —")
            else:
                sd = f" ± {st['sd']:.4f}" if st["sd"] is not None else ""
                parts.append(f"{key.split('_')[0]} {st['mean']:.4f}{sd} {unit} (n={st['n']})")
        lines.append(f"pathway {pw}: {s['sweeps']} sweeps; " + "; ".join(parts))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.pathways is not None and args.pathways < 1:
        raise UserError(f"--pathways {args.pathways}: must be >= 1")
    if args.auto is not None and args.auto < 1:
        raise UserError(f"--auto {args.auto}: must be >= 1")
    src = open_input(args.input, args.channel, args.stim_ms)
    try:
        windows, notes = resolve_windows(src, args.window, args.auto)
        rows = analyze(src, windows, args.method, args.pathways)
    finally:
        src.close()
    doc = {
        "source": src.source,
        "sample_rate_hz": src.sample_rate_hz,
        "method": args.method,
        "windows": windows.to_dict(),
        "sweeps": rows,
        "channel": src.channel,
        "notes": src.notes + notes,
    }
    stats = pathway_stats(rows)
    if args.json:
        doc["pathways"] = {str(k): v for k, v in stats.items()}
        print(json.dumps(doc))
    else:
        print(format_text(doc, stats))
    return 0
