"""The one exception base of ganflow and its few refinements.

Every error a user can cause (a bad file, a bad value, a missing model) is a ``GanflowError``
whose message names the file, line, column and offending text where there is one. The CLI turns
it into one line on stderr and exit code 2; library callers can catch the base class.
"""

from __future__ import annotations

__all__ = ["GanflowError", "DataError", "ConfigError", "ModelError", "TrackingError"]


class GanflowError(Exception):
    """Base class of every error ganflow raises on purpose."""


class DataError(GanflowError):
    """An input file cannot be read: missing, malformed, or too short for the model."""

    @classmethod
    def at(cls, path: object, line: int, column: int | None, message: str) -> DataError:
        """Build an error located at ``path:line[:column]``."""
        where = f"{path}:{line}" + (f":{column}" if column is not None else "")
        return cls(f"{where}: {message}")


class ConfigError(GanflowError):
    """A hyper-parameter or option has a value that cannot work."""


class ModelError(GanflowError):
    """A model URI or artifact cannot be resolved or is not a ganflow model."""


class TrackingError(GanflowError):
    """The tracking server (or the local disk) failed mid-run; the message says where the local
    checkpoints are and how to resume."""
