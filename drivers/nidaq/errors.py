"""Classification of NI-DAQmx errors into what the run must do about them."""

from __future__ import annotations

from drivers.base import DeviceError, OutputUnderflowError  # noqa: F401 - re-exported

#: AI buffer/FIFO overflows: stop, restart, record the gap, carry on.
OVERFLOW_CODES = frozenset({-200279, -200010, -200361, -200714})
#: Output underflows: the outputs ran dry; stimulation stops safely, acquisition continues.
UNDERFLOW_CODES = frozenset({-200290, -200016, -200621, -200018})
#: The device name is unknown or the device is gone.
MISSING_DEVICE_CODES = frozenset({-200220, -201003})

SIM_HINT = "run with --sim to use the simulated slice instead"



def error_code(exc: BaseException) -> int | None:
    """The DAQmx error code of a ``DaqError`` (None for anything else)."""
    code = getattr(exc, "error_code", None)
    return int(code) if isinstance(code, int) else None


def is_overflow(exc: BaseException) -> bool:
    return error_code(exc) in OVERFLOW_CODES


def is_underflow(exc: BaseException) -> bool:
    return error_code(exc) in UNDERFLOW_CODES


def one_line(exc: BaseException) -> str:
    """A DAQmx message on one line: its text up to the status code, then the code."""
    parts = [ln.strip() for ln in str(exc).splitlines()]
    parts = [p for p in parts if p and not p.startswith("Status Code:")]
    code = error_code(exc)
    text = "; ".join(parts) or type(exc).__name__
    return f"{text} (DAQmx {code})" if code is not None else text


def not_found_message(device: str, exc: BaseException) -> str:
    """One clear line for a missing NI-DAQmx driver or device."""
    if type(exc).__name__ == "DaqNotFoundError":
        what = "the NI-DAQmx driver is not installed on this computer"
    else:
        what = f"NI device {device!r} was not found (check `rig devices` or NI MAX)"
    return f"{what}; {SIM_HINT}"


class driver_errors:  # noqa: N801 - used as a context manager, like contextlib's
    """Map driver-level failures inside the block to one-line :class:`DeviceError` s for ``device``."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type | None, exc: BaseException | None, tb: object) -> bool:
        from nidaqmx.errors import DaqError, DaqNotFoundError

        if exc is None or isinstance(exc, DeviceError):
            return False
        if isinstance(exc, DaqNotFoundError) or (isinstance(exc, DaqError) and exc.error_code in MISSING_DEVICE_CODES):
            raise DeviceError(not_found_message(self.device, exc)) from exc
        if isinstance(exc, DaqError):
            raise DeviceError(f"NI-DAQmx error: {one_line(exc)}") from exc
        return False
