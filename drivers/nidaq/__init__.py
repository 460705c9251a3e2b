"""NI-DAQmx backend: :class:`NidaqDevice` and device discovery."""

from drivers.nidaq.config import AIChannel, AOChannel
from drivers.nidaq.device import NidaqDevice
from drivers.nidaq.errors import OutputUnderflowError

__all__ = ["AIChannel", "AOChannel", "NidaqDevice", "OutputUnderflowError"]
