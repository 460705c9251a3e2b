"""Build the NI-DAQmx device a rig file describes (``backend = "nidaq"``)."""

from __future__ import annotations

from drivers.base import Device
from rig.core.errors import UserError
from rig.protocol.rigfile import RigConfig

TERMINALS = {
    "differential": "DIFF",
    "rse": "RSE",
    "nrse": "NRSE",
    "pseudodifferential": "PSEUDO_DIFF",
    "default": "DEFAULT",
}
AO_MAX_V = 10.0  # X-series AO range


def physical(device: str, name: str) -> str:
    """``"ai0"`` → ``"Dev1/ai0"``; names that already hold a device are kept."""
    name = name.strip().lstrip("/")
    return name if "/" in name and not name.startswith("port") else f"{device}/{name}"


def ao_limit_V(rig: RigConfig, uA_per_V: float) -> float:
    """The command voltage that reaches the rig's intensity limit (≤ 10 V): the AO range and
    the driver's clip level, so a wrong renderer can never exceed ``max_intensity_uA``."""
    return min(AO_MAX_V, rig.limits.max_intensity_uA / uA_per_V)


def check_nidaq_rig(rig: RigConfig) -> None:
    """Check the wiring against what the board can do, without touching it (for ``rig check``
    and before arming). Raises ``UserError``."""
    from drivers.nidaq.config import check_channel_device, do_line_number

    try:
        ai, ao, lines = _specs(rig)
        for ch in [*ai, *ao]:
            check_channel_device(ch.physical, rig.device)
        for line in lines:
            do_line_number(line, rig.device)
    except ValueError as exc:
        raise UserError(f"rig file: {exc}") from exc


def nidaq_device_from_rig(rig: RigConfig, block_samples: int) -> Device:
    """A :class:`drivers.nidaq.NidaqDevice` for ``rig`` (raises ``DeviceError`` suggesting
    ``--sim`` when the NI driver or the device is missing; ``UserError`` for wiring the board
    cannot do, e.g. a TTL line outside port0)."""
    from drivers.nidaq import NidaqDevice

    check_nidaq_rig(rig)
    ai, ao, lines = _specs(rig)
    dev = NidaqDevice(rig.device, rig.sample_rate_hz, ai, ao, lines, block_samples=block_samples)
    try:
        verify_sample_rate(dev, ai)
    except BaseException:
        dev.close()
        raise
    return dev


def verify_sample_rate(dev: Device, ai: list) -> None:
    """Configure the AI clock once, before anything is armed, and read back the rate the board
    really makes; a coerced rate is a ``UserError`` (the device checks again when it starts)."""
    from nidaqmx.errors import DaqError

    from drivers.base import DeviceError, SampleRateError
    from drivers.nidaq import tasks

    try:
        task = tasks.make_ai_task(f"ltprig_{dev.device}_ratecheck", ai, dev.sample_rate_hz,
                                  dev.input_buffer_samples)
    except SampleRateError as exc:
        raise UserError(str(exc)) from exc
    except DaqError as exc:
        n = len(ai)
        need = (f" ({n} channels × {dev.sample_rate_hz:g} Hz = {n * dev.sample_rate_hz / 1e6:.3g} MS/s aggregate: "
                "does the board convert that fast? docs/mea.md)" if n > 1 else "")
        raise DeviceError(f"NI-DAQmx error while configuring the sample clock: {str(exc).splitlines()[0]}"
                          f" [{exc.error_code}]{need}") from exc
    tasks.close_quietly(task)


def _specs(rig: RigConfig) -> tuple[list, list, list[str]]:
    """(AI channel specs, AO channel specs, DO line names) of the rig's wiring."""
    from drivers.nidaq import AIChannel, AOChannel

    dev = rig.device
    ai = [AIChannel(physical(dev, a.channel), TERMINALS[a.terminal], -a.range_V, a.range_V)
          for a in rig.ai]
    ao = []
    for s in rig.stim:
        if s.ao is None:  # TTL-only isolator: its trigger line only
            continue
        v = min(ao_limit_V(rig, s.uA_per_V), s.ao_range_V)
        ao.append(AOChannel(physical(dev, s.ao), -v, v))
    return ai, ao, [physical(dev, line) for line in rig.do_lines]
