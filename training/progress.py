"""Progress bars on stderr for long steps (epochs, trials, rows, seeds).

Off unless turned on: the CLI turns them on when stderr is a terminal and ``-q`` is not given, so
library users, logs and CI see nothing.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["enable", "enabled", "bar"]

_ENABLED = False


def enable(on: bool = True) -> None:
    """Turn bars on or off; when on, log records are printed above the bars instead of through them."""
    global _ENABLED
    _ENABLED = on
    if on:
        root = logging.getLogger()
        for i, handler in enumerate(root.handlers):
            if type(handler) is logging.StreamHandler:
                quiet = _AboveBars()
                quiet.setFormatter(handler.formatter)
                quiet.setLevel(handler.level)
                root.handlers[i] = quiet


def enabled() -> bool:
    return _ENABLED


class _AboveBars(logging.Handler):
    """A logging handler that writes through ``tqdm.write`` so a message never splits a bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise
            self.handleError(record)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc) -> None:
        pass


def bar(total: int | None, desc: str, *, unit: str = "it", initial: int = 0):
    """A tqdm bar on stderr when enabled, else an object with the same few methods that does nothing."""
    if not _ENABLED:
        return _Silent()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, dynamic_ncols=True, leave=False)
