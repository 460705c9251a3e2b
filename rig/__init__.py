"""LTP Rig: acquisition, stimulation and online fEPSP analysis for LTP/LTD experiments."""

__version__ = "0.1.0"
