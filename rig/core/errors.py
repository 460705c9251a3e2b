"""Errors with a meaning for the command line: each maps to an exit code and one stderr line."""


class UserError(Exception):
    """Bad input from the user (file, field, value): exit 2, one line, nothing touched."""


class RunFailure(Exception):
    """A run failed at run time (device, disk): exit 1, data kept, outputs zeroed."""


class StimulusLimitError(ValueError):
    """A stimulus would exceed the rig's configured limits; it is never rendered."""
