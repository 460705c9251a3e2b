"""Crash-safe HDF5 recordings: the writer (a document subscriber) and the reader."""

from rig.storage.reader import Recording, open_recording
from rig.storage.writer import RecordingWriter, StorageError, unique_path

__all__ = ["Recording", "RecordingWriter", "StorageError", "open_recording", "unique_path"]
