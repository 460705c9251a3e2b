"""What NI-DAQmx devices this computer has (``rig devices``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import nidaqmx.system
from nidaqmx.errors import DaqError, DaqNotFoundError


@dataclass(frozen=True)
class DeviceInfo:
    """One NI device: channel names and the maximum aggregate AI rate (S/s)."""

    name: str
    product_type: str
    simulated: bool | None
    ai: list[str]
    ao: list[str]
    do: list[str]
    ci: list[str]
    co: list[str]
    ai_max_single_chan_rate_hz: float | None
    ai_max_multi_chan_rate_hz: float | None


def _try(fn: Any, default: Any = None) -> Any:
    """Device properties a product does not have raise DaqError: report them as absent."""
    try:
        return fn()
    except DaqError:
        return default


def describe(dev: nidaqmx.system.Device) -> DeviceInfo:
    return DeviceInfo(
        name=dev.name,
        product_type=_try(lambda: dev.product_type, "?"),
        simulated=_try(lambda: dev.is_simulated),
        ai=_try(lambda: list(dev.ai_physical_chans.channel_names), []),
        ao=_try(lambda: list(dev.ao_physical_chans.channel_names), []),
        do=_try(lambda: list(dev.do_lines.channel_names), []),
        ci=_try(lambda: list(dev.ci_physical_chans.channel_names), []),
        co=_try(lambda: list(dev.co_physical_chans.channel_names), []),
        ai_max_single_chan_rate_hz=_try(lambda: dev.ai_max_single_chan_rate),
        ai_max_multi_chan_rate_hz=_try(lambda: dev.ai_max_multi_chan_rate),
    )


def list_devices() -> dict[str, Any]:
    """``{"driver_installed": bool, "driver_version": str|None, "devices": [...]}``.

    A missing NI-DAQmx driver is not an error here: it is reported as ``driver_installed``
    False with a ``message``.
    """
    try:
        system = nidaqmx.system.System.local()
        v = system.driver_version
        devices = [describe(d) for d in system.devices]
    except DaqNotFoundError:
        return {
            "driver_installed": False,
            "driver_version": None,
            "devices": [],
            "message": "the NI-DAQmx driver is not installed; only the simulator (--sim) is available",
        }
    return {
        "driver_installed": True,
        "driver_version": f"{v.major_version}.{v.minor_version}.{v.update_version}",
        "devices": [asdict(d) for d in devices],
    }


def _span(names: list[str]) -> str:
    if not names:
        return "-"
    return f"{len(names)} ({names[0]}…{names[-1].split('/')[-1]})" if len(names) > 1 else names[0]


def format_devices(info: dict[str, Any]) -> str:
    """Human-readable table of :func:`list_devices`."""
    if not info["driver_installed"]:
        return info["message"]
    lines = [f"NI-DAQmx {info['driver_version']}"]
    if not info["devices"]:
        lines.append("no NI devices found (create a simulated device in NI MAX to try the rig)")
    for d in info["devices"]:
        rate = d["ai_max_multi_chan_rate_hz"]
        sim = " (simulated)" if d["simulated"] else ""
        lines.append(f"{d['name']}: {d['product_type']}{sim}")
        lines.append(f"  AI {_span(d['ai'])}  max AI rate (multi-channel) "
                     f"{'?' if rate is None else f'{rate:.0f} S/s'}")
        lines.append(f"  AO {_span(d['ao'])}  DO {_span(d['do'])}")
        lines.append(f"  counters in {_span(d['ci'])}  out {_span(d['co'])}")
    return "\n".join(lines)
