"""`rig analyze INPUT`: re-analyse a recording (LTP Rig HDF5 or Axon ABF1/ABF2) offline.

Every sweep is measured by the same detector the engine uses online. Windows: placed per pathway
from landmarks on the average of its first N sweeps (``--auto N``, default 10), unless ``--window
slope=`` is given; then each ``--window NAME=START_MS:END_MS`` override. Pathway means leave
out invalid sweeps and say how many; when most sweeps of a pathway are invalid the exit code is 1.
``--pathways N``: sweep i belongs to pathway
i mod N (WinLTP/Clampex alternation); otherwise the pathway recorded in the file (ABF: 0).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from rig import detector
from rig.analysis.abf_input import SweepSource, open_input
from rig.analysis.results import is_valid
from rig.core.errors import UserError
from rig.detector.online import sweep_blocks
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
                   help="place windows from landmarks on the average of each pathway's first N sweeps "
                        "(default 10; the default unless --window slope= is given, or the recording "
                        "stores the windows it was measured with)")
    p.add_argument("--average", type=int, default=1, metavar="N",
                   help="measure the average of N consecutive sweeps of each pathway (default 1: every sweep)")
    p.add_argument("--double-edge-ms", type=float, default=5.0, metavar="MS",
                   help="stimulus edges closer than this are one stimulus (default 5 ms)")
    p.add_argument("--stim-ms", type=float, default=None,
                   help="ABF: stimulus time in each sweep (ms) when the file does not say")
    p.add_argument("--save", action="store_true",
                   help="add the measurements as a new analysis version to the recording (LTP Rig .h5; crash-safe; "
                        "raw data and earlier versions untouched)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run)


def _num(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _pathway_of(src: SweepSource, pathways: int | None) -> np.ndarray:
    """Pathway of every sweep: ``--pathways N`` (i mod N), else as recorded, else 0."""
    if pathways:
        return np.arange(src.n_sweeps) % pathways
    if src.pathways is not None:
        return np.asarray(src.pathways[: src.n_sweeps], dtype=np.int64)
    return np.zeros(src.n_sweeps, dtype=np.int64)


def resolve_windows(src: SweepSource, overrides: list[str], auto: int | None,
                    pw_of: np.ndarray | None = None) -> tuple[dict[int, detector.Windows], dict[int, dict], list[str]]:
    """Per pathway: landmarks on the average of its first ``auto`` sweeps place the windows (unless
    every slope bound is given by ``--window``), then each ``--window`` override. Returns the
    windows, the placement (landmarks, confidence, reasons) and notes."""
    notes: list[str] = []
    pw_of = np.zeros(src.n_sweeps, np.int64) if pw_of is None else pw_of
    stored = detector.PathwayWindows()
    if src.windows:
        try:  # the recording's windows: every pathway's and each pathway's own (format ≥ 1.4)
            stored = detector.PathwayWindows.from_dicts(src.windows, src.pathway_windows)
            notes.append("windows stored with the recording" + (" (fallback)" if auto else ""))
        except (TypeError, ValueError) as exc:
            notes.append(f"stored windows ignored ({exc})")
    base = stored.default
    given = any(o.partition("=")[0].strip() == "slope" for o in overrides)
    manual = given or (auto is None and bool(src.windows))  # measured online with these
    source = "--window" if given else "stored with the recording" if manual else "placed from landmarks"
    for spec in overrides:  # the baseline / artifact overrides also guide the placement
        try:
            base.override(spec)
        except ValueError as exc:
            raise UserError(f"--window {exc}") from None
    out: dict[int, detector.Windows] = {}
    placed: dict[int, dict] = {}
    for pw in sorted({int(p) for p in pw_of}):
        guide = stored.of(pw)
        for spec in overrides:
            if spec.partition("=")[0].strip() in ("baseline", "artifact"):
                guide = guide.override(spec)
        w = guide
        sel = np.flatnonzero(pw_of == pw)[: auto or 10]
        placed[pw] = {"windows_source": source, "ok": True, "message": f"windows {source}",
                      "sweeps_averaged": 0, "landmarks_ms": {}, "confidence": {}, "reasons": {}}
        if sel.size and np.size(src.get_pulses(int(sel[0]))):  # the landmarks, also of windows not placed
            avg, stim = average_sweeps([src.get_sweep(int(i)) for i in sel],
                                       [int(src.get_pulses(int(i))[0]) for i in sel], sel.size)
            prop = propose_windows(avg, stim, src.sample_rate_hz, guide)
            placed[pw].update({"sweeps_averaged": int(sel.size), "landmarks_ms": prop.landmarks_ms})
            if not manual:
                placed[pw].update({"ok": prop.ok, "message": prop.message, "confidence": prop.confidence,
                                   "reasons": prop.reasons})
                w = prop.windows
                if not prop.ok:
                    notes.append(f"warning: pathway {pw}: {prop.message}")
        for spec in overrides:
            w = w.override(spec)
        out[pw] = w
        if manual or not placed[pw]["confidence"]:  # what the windows used are, not a placement
            placed[pw].update(given_windows_confidence(src, pw, w, overrides, placed[pw]["landmarks_ms"]))
        else:  # placed, then a --window override (baseline=, artifact=): that window is the one given
            given = {o.partition("=")[0].strip() for o in overrides} & set(detector.WINDOW_NAMES)
            placed[pw]["confidence"] = {**placed[pw]["confidence"], **dict.fromkeys(given)}
            placed[pw]["reasons"] = {**placed[pw]["reasons"], **dict.fromkeys(given, "given with --window")}
    if not manual:
        notes.append("windows placed from landmarks on the average of each pathway's first sweeps")
    return out, placed, notes


def given_windows_confidence(src: SweepSource, pw: int, w: detector.Windows, overrides: list[str],
                             landmarks_ms: dict) -> dict[str, dict]:
    """``confidence`` and ``reasons`` per window of windows not placed here: ``--window`` ones, the
    recording's stored ones (the confidence of the stored online proposal they came from, when they
    did), else the detector defaults; confidence None when nothing measured it. The slope reason
    places the window against the landmarks (ms)."""
    given = {o.partition("=")[0].strip() for o in overrides}
    stored = detector.PathwayWindows()
    if src.windows:
        try:
            stored = detector.PathwayWindows.from_dicts(src.windows, src.pathway_windows)
        except (TypeError, ValueError):
            pass
    prop = src.proposals.get(pw) or {}
    conf: dict[str, float | None] = {}
    why: dict[str, str] = {}
    for name, rng in w.to_dict().items():
        if name not in detector.WINDOW_NAMES:
            continue
        conf[name] = None
        if name in given:
            why[name] = "given with --window"
        elif src.windows and prop.get("ok") and _same(prop.get("windows", {}).get(name), rng) and \
                _same(stored.of(pw).to_dict().get(name), rng):
            conf[name] = prop.get("confidence") if name == "slope" else None
            why[name] = (f"stored windows: placed online from landmarks on the average of {prop.get('sweeps', 0)} "
                         "baseline sweeps (windows_proposed)")
        else:
            why[name] = "stored windows (not placed from landmarks)" if src.windows else "detector default"
    lm, (a, b) = landmarks_ms, w.slope
    ref = next((k for k in ("rebound", "volley") if isinstance(lm.get(k), (int, float))), None)
    if ref:
        why["slope"] += f"; starts {a - lm[ref]:+.2f} ms from the volley's {ref}"
    if isinstance(lm.get("trough"), (int, float)):
        why["slope"] += f"; ends {lm['trough'] - b:.2f} ms before the trough"
    return {"confidence": conf, "reasons": why}


def _same(a: object, b: object) -> bool:
    """Two windows (ms) equal to 1 µs."""
    try:
        return len(a) == 2 and all(abs(float(x) - float(y)) < 1e-3 for x, y in zip(a, b, strict=True))
    except (TypeError, ValueError):
        return False


def analyze(src: SweepSource, windows: dict[int, detector.Windows] | detector.Windows, method: str,
            pathways: int | None, average_n: int = 1) -> list[dict]:
    """One dict per sweep (first pulse; ``paired_pulse_ratio`` when the sweep has ≥ 2 pulses).
    ``average_n`` > 1: each row is the measurement of the average of N consecutive sweeps of a pathway."""
    field = detector.SLOPE_FIELD[method]
    detector.warm_up()
    pw_of = _pathway_of(src, pathways)
    groups = sweep_blocks(pw_of, average_n, src.kinds)
    rows = []
    for g in groups:
        i = int(g[0])
        pw = int(pw_of[i])
        w = windows.get(pw, detector.Windows()) if isinstance(windows, dict) else windows
        pulses = np.asarray(src.get_pulses(i), dtype=np.int64)
        trace = src.get_sweep(i) if len(g) == 1 else np.mean([src.get_sweep(int(j)) for j in g], axis=0)
        rec = detector.measure_pulses(trace, pulses, src.sample_rate_hz, w, src.clip_mV)
        if rec.size == 0:  # no stimulus: nothing measured, every value null with its reason
            rec = detector.measure_pulses(trace, np.array([-1]), src.sample_rate_hz, w, src.clip_mV)
            rec["flags"] = detector.NO_STIMULUS
        r = rec[0]
        row = {
            "index": i,
            "pathway": pw,
            "time_s": _num(src.times_s[i]) if i < len(src.times_s) else None,
            "slope_mV_per_ms": _num(r[field]),
            "amplitude_mV": _num(r["amplitude_mV"]),
            "fiber_volley_mV": _num(r["volley_mV"]),
            "pop_spike_mV": _num(r["pop_spike_mV"]),
            "flags": int(r["flags"]) | int(src.flags),
        }
        if len(g) > 1:
            row["sweeps_averaged"] = [int(j) for j in g]
        if rec.size >= 2:
            row["paired_pulse_ratio"] = _num(detector.paired_pulse_ratio(rec, field))
        rows.append(row)
    return rows


def pathway_stats(rows: list[dict]) -> dict[int, dict]:
    """Per pathway: n and mean ± SD of slope and amplitude over the valid sweeps (no invalid flag,
    the value measured: the definition of :func:`rig.analysis.results.is_valid`); ``flagged``
    counts the sweeps left out."""
    out: dict[int, dict] = {}
    for pw in sorted({r["pathway"] for r in rows}):
        mine = [r for r in rows if r["pathway"] == pw]
        good = [r for r in mine if is_valid(r["flags"], r["slope_mV_per_ms"] if r["slope_mV_per_ms"] is not None
                                             else math.nan)]
        stats: dict = {"sweeps": len(mine), "flagged": len(mine) - len(good),
                       "flag_counts": _flag_counts(mine)}
        for key in ("slope_mV_per_ms", "amplitude_mV"):
            v = np.array([r[key] for r in good if r[key] is not None], dtype=float)
            stats[key] = {
                "n": int(v.size),
                "mean": _num(v.mean()) if v.size else None,
                "sd": _num(v.std(ddof=1)) if v.size > 1 else None,
            }
        out[pw] = stats
    return out


def _flag_counts(rows: list[dict]) -> dict[str, int]:
    """How many of the rows carry each flag (invalid ones and warnings alike), by flag name."""
    out: dict[str, int] = {}
    for r in rows:
        for n in detector.flag_names(r["flags"]):
            out[n] = out.get(n, 0) + 1
    return dict(sorted(out.items()))


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
        lines.append(f"pathway {pw}: {s['sweeps']} sweeps, {s['flagged']} flagged (left out); " + "; ".join(parts))
        if s.get("landmarks_ms"):
            lm = s["landmarks_ms"]
            keys = ("artifact_end", "volley", "rebound", "onset", "t20", "t60", "trough", "pop_spike")
            lines.append("  landmarks (ms): " + ", ".join(f"{k} {lm[k]:g}" for k in keys if k in lm)
                         + f"; slope window {s['windows']['slope'][0]:g}–{s['windows']['slope'][1]:g} ms "
                         + (f"(confidence {s['confidence']['slope']:.2f})"
                            if isinstance(s.get("confidence", {}).get("slope"), (int, float))
                            else f"({s.get('windows_source', '')})"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.pathways is not None and args.pathways < 1:
        raise UserError(f"--pathways {args.pathways}: must be >= 1")
    if args.auto is not None and args.auto < 1:
        raise UserError(f"--auto {args.auto}: must be >= 1")
    if args.average < 1:
        raise UserError(f"--average {args.average}: must be >= 1")
    from rig.core.jit import load_numba

    load_numba(cache_only=True)  # the detector's cached kernels: no scipy, registries only if one compiles
    if not 0.0 <= args.double_edge_ms <= 1000.0:
        raise UserError(f"--double-edge-ms {args.double_edge_ms}: must be 0 … 1000 ms")
    src = open_input(args.input, args.channel, args.stim_ms, args.double_edge_ms)
    if args.save and src.kind != "ltp-rig":
        src.close()
        raise UserError(f"{args.input}: --save adds an analysis version to an LTP Rig recording (.h5), "
                        f"not to {src.kind}")
    try:
        pw_of = _pathway_of(src, args.pathways)
        windows, placed, notes = resolve_windows(src, args.window, args.auto, pw_of)
        rows = analyze(src, windows, args.method, args.pathways, args.average)
    finally:
        src.close()
    first = windows[min(windows)] if windows else detector.Windows()
    doc = {
        "source": src.source,
        "sample_rate_hz": src.sample_rate_hz,
        "method": args.method,
        "windows": first.to_dict(),
        "sweeps": rows,
        "channel": src.channel,
        "average": args.average,
        "notes": src.notes + notes,
    }
    if args.save:
        from rig.storage.save_analysis import save_version

        doc["saved"] = save_version(args.input, windows, args.method, average_n=args.average)
        avg = f", {doc['saved']['averaged_rows']} averaged rows" if args.average > 1 else ""
        print(f"rig analyze: saved analysis version {doc['saved']['version']} ({doc['saved']['sweeps']} sweeps"
              f"{avg}) to {args.input}", file=sys.stderr)
    stats = pathway_stats(rows)
    for pw, st in stats.items():
        st["windows"] = windows[pw].to_dict()
        st.update(placed.get(pw) or {"windows_source": "--window", "ok": True, "message": "windows given with --window",
                                     "sweeps_averaged": 0, "landmarks_ms": {}, "confidence": {}, "reasons": {}})
    bad = [pw for pw, st in stats.items() if st["flagged"] * 2 > st["sweeps"]]
    if args.json:
        doc["pathways"] = {str(k): v for k, v in stats.items()}
        print(json.dumps(doc))
    else:
        print(format_text(doc, stats))
    for n in notes:
        if n.startswith("warning:"):
            print(f"rig analyze: {n}", file=sys.stderr)
    for pw in bad:
        st = stats[pw]
        print(f"rig analyze: {src.source}: pathway {pw}: {st['flagged']} of {st['sweeps']} sweeps are invalid "
              f"(flags: {_common_flags(rows, pw)}); no trustworthy mean", file=sys.stderr)
    return 1 if bad else 0


def _common_flags(rows: list[dict], pw: int) -> str:
    names = _flag_counts([r for r in rows if r["pathway"] == pw])
    return ", ".join(f"{k} ×{v}" for k, v in sorted(names.items(), key=lambda kv: -kv[1])) or "none"
