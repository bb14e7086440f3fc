"""Progress bars on stderr for long steps (epochs, trials, rows, seeds).

Off unless turned on: the CLI turns them on when stderr is a terminal and ``-q`` is not given, so
library users, logs and CI see nothing.
"""

from __future__ import annotations

import sys

__all__ = ["enable", "enabled", "bar"]

_ENABLED = False


def enable(on: bool = True) -> None:
    global _ENABLED
    _ENABLED = on


def enabled() -> bool:
    return _ENABLED


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
