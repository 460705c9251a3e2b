"""Sweeps to re-analyse, from an Axon ABF file (ABF1/ABF2, read with pyabf) or an LTP Rig HDF5
recording (``rig.storage.open_recording``), behind one small interface: :class:`SweepSource`.

Where an ABF file does not say when the stimulus was delivered (no digital-output pulse in its
epoch table), the stimulus is found from the artifact: the first sample whose step to the next
exceeds 30 % of the largest step in the median sweep, which must stand out ≥ 20× from the
median step (otherwise the input is rejected). Edges or artifacts closer than 5 ms (settable) to the
previous one are the same stimulus. A header that declares more data than the file holds is refused
before any data is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rig.core.errors import UserError
from rig.detector.codes import NO_STIMULUS, NOT_VOLTAGE

DOUBLE_EDGE_MS = 5.0  # stimulus edges closer than this are one stimulus (no paired pulse is that close)
MAX_CHANNELS = 64
_VOLT_UNITS = {"mv": 1.0, "v": 1000.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3}


@dataclass
class SweepSource:
    """What ``rig analyze`` needs from a recording. Pulse onsets are samples into each sweep."""

    source: str
    kind: str  # "abf" | "ltp-rig"
    sample_rate_hz: float
    n_sweeps: int
    get_sweep: Callable[[int], np.ndarray]  # i → float64 mV at the electrode
    get_pulses: Callable[[int], np.ndarray]  # i → int64 onsets into the sweep
    times_s: np.ndarray
    pathways: np.ndarray | None = None  # from the file (LTP Rig); None: not recorded
    windows: dict | None = None  # windows stored with the data, if any
    pathway_windows: dict | None = None  # and each pathway's own (format ≥ 1.4: index → entries that differ)
    kinds: np.ndarray | None = None  # sweep kinds (LTP Rig: test, train, …): --average never mixes two
    clip_mV: float | None = None
    channel: int = 0
    channel_name: str = ""
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    flags: int = 0  # flag bits of every sweep (NOT_VOLTAGE, NO_STIMULUS: rig.detector.codes)
    proposals: dict[int, dict] = field(default_factory=dict)  # pathway → its last stored windows_proposed data


def open_input(path: str | Path, channel: int | None = None, stim_ms: float | None = None,
               double_edge_ms: float = DOUBLE_EDGE_MS) -> SweepSource:
    """Open an ABF or LTP Rig HDF5 file by its signature; anything else is a UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such file")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head[:4] in (b"ABF ", b"ABF2"):
        return read_abf(p, channel, stim_ms, double_edge_ms)
    if head == b"\x89HDF\r\n\x1a\n":
        return read_recording(p, channel)
    raise UserError(f"{p}: not an ABF file or an LTP Rig recording (unknown signature)")


# -- ABF ---------------------------------------------------------------------------------------
def _abf_clip_mV(abf, ch: int, to_mV: float) -> float | None:
    """Electrode mV at the ADC's rails for int16 data (private pyabf fields; None if unknown)."""
    try:
        if abf._dtype != np.int16:
            return None
        gain, off = float(abf._dataGain[ch]), float(abf._dataOffset[ch])
    except (AttributeError, IndexError, TypeError):
        return None
    rail = min(abs(32767 * gain + off), abs(-32768 * gain + off)) * abs(to_mV)
    return 0.999 * rail if rail > 0 else None


def merge_edges(onsets: np.ndarray, fs_hz: float, min_gap_ms: float = DOUBLE_EDGE_MS) -> np.ndarray:
    """Onsets closer than ``min_gap_ms`` to the previous kept one are the same stimulus (a trigger
    with two short edges, an artifact's ringing): keep the first."""
    gap = min_gap_ms * fs_hz / 1000.0
    kept: list[int] = []
    for o in np.asarray(onsets, dtype=np.int64):
        if not kept or o - kept[-1] >= gap:
            kept.append(int(o))
    return np.asarray(kept, dtype=np.int64)


def check_abf1_raw(path: Path) -> None:
    """ABF1: the sizes in the fixed header (read as bytes, before pyabf builds anything from them)
    must fit the file: data pointer (blocks of 512) + lActualAcqLength samples, ≤ that many sweeps."""
    import struct

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(140)
    if head[:4] != b"ABF " or len(head) < 140:
        return
    acq, episodes = struct.unpack_from("<i", head, 10)[0], struct.unpack_from("<i", head, 16)[0]
    data_block = struct.unpack_from("<i", head, 40)[0]
    n_ch = struct.unpack_from("<h", head, 120)[0]
    width = 4 if struct.unpack_from("<h", head, 100)[0] == 1 else 2
    if not 1 <= n_ch <= MAX_CHANNELS:
        raise UserError(f"{path}: ABF header: nADCNumChannels {n_ch} (allowed: 1..{MAX_CHANNELS})")
    if acq <= 0 or data_block < 0 or data_block * 512 + acq * width > size:
        raise UserError(f"{path}: ABF header declares {acq} samples from block {data_block}, "
                        f"but the file holds {size} bytes")
    if not 0 <= episodes <= acq:
        raise UserError(f"{path}: ABF header: lActualEpisodes {episodes} (allowed: 0..{acq})")


def check_abf_header(abf, path: Path) -> None:
    """Refuse a header that declares more data than the file holds (before any data is read)."""
    size = path.stat().st_size
    try:
        start, n_points = int(abf.dataByteStart), int(abf.dataPointCount)
        width = int(abf.dataPointByteSize)
        n_ch, n_sw, fs = int(abf.channelCount), int(abf.sweepCount), float(abf.sampleRate)
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise UserError(f"{path}: unreadable ABF header ({exc})") from None
    if width not in (2, 4):
        raise UserError(f"{path}: ABF header: data point size {width} bytes (allowed: 2 or 4)")
    if not 1 <= n_ch <= MAX_CHANNELS:
        raise UserError(f"{path}: ABF header: {n_ch} channels (allowed: 1..{MAX_CHANNELS})")
    if not 100.0 <= fs <= 1e6:
        raise UserError(f"{path}: ABF header: sample rate {fs:g} Hz (allowed: 100 Hz .. 1 MHz)")
    if n_points <= 0 or start < 0 or start + n_points * width > size:
        raise UserError(f"{path}: ABF header declares {n_points} points from byte {start}, "
                        f"but the file holds {size} bytes")
    if not 1 <= n_sw <= n_points:
        raise UserError(f"{path}: ABF header: {n_sw} sweeps for {n_points} points")


def _digital_stimulus(abf, n_points: int) -> np.ndarray | None:
    """Rising edges of the first digital output that pulses during sweep 0, if the file says.

    ``abf.sweepD(d)`` would build the epoch table of every sweep anew for each output ``d``; the
    table of sweep 0 that ``setSweep(0)`` built (``abf.sweepEpochs``) gives the same waveforms once.
    """
    try:
        if (abf.sweepNumber, abf.sweepChannel) != (0, 0):  # pyabf.ABF(path) sets sweep 0 of channel 0
            abf.setSweep(0)
        if abf.sweepChannel >= len(abf.holdingCommand):  # what sweepD returns None for
            return None
        epochs = abf.sweepEpochs
        for d in range(8):
            dig = epochs.getDigitalWaveform(d)
            dig = np.asarray(dig)[:n_points]
            edges = np.flatnonzero((dig[1:] > 0) & (dig[:-1] <= 0)) + 1
            if edges.size:
                return edges.astype(np.int64)
    except Exception:  # noqa: BLE001 - pyabf raises many kinds on headers without epochs
        return None
    return None


def find_stimuli(sweeps: np.ndarray, fs_hz: float, min_gap_ms: float = 2.0) -> np.ndarray:
    """Pulse onsets (samples) from the stimulus artifact of the median of ``sweeps`` (n, m)."""
    med = np.median(np.asarray(sweeps, dtype=np.float64), axis=0)
    step = np.abs(np.diff(med))
    if step.size < 10 or not np.all(np.isfinite(step)):
        raise UserError("cannot find the stimulus: sweeps too short or not finite")
    big = float(step.max())
    typical = float(np.median(step)) or 1e-12
    if big < 20.0 * typical:
        raise UserError("cannot find the stimulus: no artifact stands out (give --stim-ms)")
    cand = np.flatnonzero(step > 0.3 * big)
    gap = max(1, int(round(min_gap_ms * fs_hz / 1000.0)))
    onsets, prev = [int(cand[0])], int(cand[0])
    for c in cand[1:]:
        if c - prev > gap:  # a new artifact, not the same one's next steps
            onsets.append(int(c))
        prev = int(c)
    return np.asarray(onsets, dtype=np.int64) + 1  # step i → i+1 is the artifact's first sample


def read_abf(path: Path, channel: int | None = None, stim_ms: float | None = None,
             double_edge_ms: float = DOUBLE_EDGE_MS) -> SweepSource:
    """Read an episodic ABF1/ABF2 file with pyabf (header checked against the file size first)."""
    try:
        import pyabf
    except ImportError as exc:  # pragma: no cover - pyabf is a dependency
        raise UserError(f"{path}: reading ABF files needs pyabf ({exc})") from exc
    try:
        check_abf1_raw(path)
        check_abf_header(pyabf.ABF(str(path), loadData=False), path)
        abf = pyabf.ABF(str(path))
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyabf raises anything on a corrupt file
        raise UserError(f"{path}: unreadable ABF file ({type(exc).__name__}: {exc})") from exc
    if getattr(abf, "nOperationMode", 5) == 3:
        raise UserError(f"{path}: gap-free ABF recordings are not supported (episodic sweeps only)")
    units = [str(u).strip().lower() for u in abf.adcUnits]
    if channel is None:
        volt = [i for i, u in enumerate(units) if u in _VOLT_UNITS]
        ch = volt[0] if volt else 0
    else:
        ch = int(channel)
    if not 0 <= ch < abf.channelCount:
        raise UserError(f"{path}: --channel {ch}: the file has channels 0..{abf.channelCount - 1}")
    to_mV = _VOLT_UNITS.get(units[ch])
    notes = []
    flags = 0
    if to_mV is None:
        to_mV = 1.0
        flags |= int(NOT_VOLTAGE)
        notes.append(f"channel {ch} is in {abf.adcUnits[ch]!r}, not a voltage (voltage clamp?): values used "
                     "as mV, every sweep flagged not_voltage")
    n_pts = int(abf.sweepPointCount)
    n_sw = int(abf.sweepCount)
    if n_pts < 10 or n_sw < 1:
        raise UserError(f"{path}: no sweeps in the file")
    data = np.asarray(abf.data[ch], dtype=np.float64)
    if data.size < n_sw * n_pts:
        raise UserError(f"{path}: file holds {data.size} points, expected {n_sw}×{n_pts}")
    sweeps = data[: n_sw * n_pts].reshape(n_sw, n_pts) * to_mV
    fs = float(abf.sampleRate)
    if stim_ms is not None:
        pulses = np.array([int(round(stim_ms * fs / 1000.0))], dtype=np.int64)
        notes.append(f"stimulus given: {stim_ms} ms into each sweep")
    else:
        pulses = _digital_stimulus(abf, n_pts)
        if pulses is not None:
            notes.append("stimulus from the digital output in the file's epoch table")
        else:
            try:
                pulses = find_stimuli(sweeps[: min(n_sw, 20)], fs, double_edge_ms)
                notes.append("stimulus found from the artifact")
            except UserError as exc:  # nothing to measure: every sweep flagged no_stimulus, values null
                pulses = np.zeros(0, dtype=np.int64)
                flags |= int(NO_STIMULUS)
                notes.append(f"warning: {exc}: every sweep flagged no_stimulus")
        merged = merge_edges(pulses, fs, double_edge_ms)
        if merged.size < pulses.size:
            notes.append(f"{pulses.size - merged.size} stimulus edge(s) closer than {double_edge_ms:g} ms "
                         "to the previous one merged (one stimulus)")
        pulses = merged
    return SweepSource(
        source=str(path), kind="abf", sample_rate_hz=fs, n_sweeps=n_sw,
        get_sweep=lambda i: sweeps[i], get_pulses=lambda i: pulses,
        times_s=np.asarray(abf.sweepTimesSec, dtype=np.float64), clip_mV=_abf_clip_mV(abf, ch, to_mV),
        channel=ch, channel_name=str(abf.adcNames[ch]), notes=notes, flags=flags,
    )


# -- LTP Rig HDF5 --------------------------------------------------------------------------------
def read_recording(path: Path, channel: int | None = None) -> SweepSource:
    """An LTP Rig recording through ``rig.storage.open_recording`` (default channel 0)."""
    from rig.storage import open_recording

    rec = open_recording(path)
    ch = 0 if channel is None else int(channel)
    n_ai = len(np.atleast_1d(rec.mV_per_count))
    if not 0 <= ch < n_ai:
        rec.close()
        raise UserError(f"{path}: --channel {ch}: the recording has channels 0..{n_ai - 1}")
    table = rec.sweep_table
    windows = rec.analysis_info.get("windows") or getattr(rec, "windows", None)  # the newest analysis version's
    if windows is None and "windows" in rec.attrs:
        try:
            windows = json.loads(rec.attrs["windows"])
        except (TypeError, ValueError):
            windows = None
    scale = float(np.atleast_1d(rec.mV_per_count)[ch])
    return SweepSource(
        source=str(path), kind="ltp-rig", sample_rate_hz=float(rec.sample_rate_hz),
        n_sweeps=int(rec.n_sweeps),
        get_sweep=lambda i: rec.sweep_mV(i, ch),
        get_pulses=lambda i: np.asarray(rec.pulse_samples(i), np.int64) - int(table["start_sample"][i]),
        times_s=np.asarray(table["time_s"], dtype=np.float64),
        pathways=np.asarray(table["pathway"], dtype=np.int64), kinds=np.asarray(table["kind"]),
        windows=windows, pathway_windows=rec.analysis_info.get("pathway_windows") or None,
        clip_mV=0.999 * 32767 * abs(scale), channel=ch, close=rec.close,
        proposals={int(e["data"].get("pathway", 0)): e["data"] for e in rec.events
                   if e["kind"] == "windows_proposed" and isinstance(e["data"], dict)
                   and isinstance(e["data"].get("pathway", 0), int)},
    )
