"""Exports of a recording: NWB 2 (pynwb) and CSV."""
