"""Crash-safe HDF5 recordings: the writer (a document subscriber) and the reader."""

from rig.storage.disk import StorageError, unique_path
from rig.storage.reader import Recording, open_recording

__all__ = ["Recording", "RecordingWriter", "StorageError", "open_recording", "unique_path"]


def __getattr__(name: str):
    """The writer loads on first use (``rig summary`` and the other readers never need it)."""
    if name == "RecordingWriter":
        from rig.storage.writer import RecordingWriter

        return RecordingWriter
    raise AttributeError(f"module 'rig.storage' has no attribute {name!r}")
