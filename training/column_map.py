"""``--columns``: which field of a CSV / text / Parquet trace is which of ganflow's columns (by header
name or 1-based position), shared by the line readers (``training.readers``), the pyarrow fast path
(``training.fast_readers``) and the Parquet reader."""

from __future__ import annotations

from training.errors import DataError

__all__ = ["by_position", "column_map", "has_header", "split_fields"]

_REQUIRED, _OPTIONAL = ("timestamp", "length", "lba"), ("latency", "opcode")
_MAP_HELP = ("expected name=Header or name=N (1-based position) with name in timestamp,length,lba,latency,opcode")


def _parse_mapping(columns: str) -> tuple[dict[str, str], set[str]]:
    """``--columns`` text -> (our name -> header name or 1-based position, the names given explicitly)."""
    mapping = {c: c for c in _REQUIRED + _OPTIONAL}
    given = set()
    for part in filter(None, (p.strip() for p in columns.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in mapping:
            raise DataError(f"--columns: {_MAP_HELP}, got {part!r}")
        if value.isdigit() and int(value) == 0:
            raise DataError(f"--columns: positions count from 1, got {part!r}")
        mapping[key] = value
        given.add(key)
    return mapping, given


def by_position(columns: str) -> bool:
    """True when ``--columns`` maps the required columns by position (the file may lack a header)."""
    mapping, _ = _parse_mapping(columns)
    return all(mapping[k].isdigit() for k in _REQUIRED)


def column_map(columns: str, header: list[str] | None) -> tuple[dict[str, int | None], list[str]]:
    """Our column -> 0-based field index (None: a latency or opcode the file does not have), and
    what is missing: a required column, or an optional one named in ``--columns`` (``latency=`` with
    nothing after it says the trace has no latency). ``header`` is None for a file without one."""
    mapping, given = _parse_mapping(columns)
    out: dict[str, int | None] = {}
    missing = []
    for key, value in mapping.items():
        if value.isdigit():
            out[key] = int(value) - 1
        elif header is not None and value in header:
            out[key] = header.index(value)
        elif key in _OPTIONAL and (key not in given or value == ""):
            out[key] = None
        else:
            missing.append(f"{key}={value}")
    return out, missing


def split_fields(text: str, delimiter: str | None) -> list[str]:
    """A line's fields: whitespace-separated (``delimiter`` None) or split on ``delimiter``."""
    return text.split() if delimiter is None else text.rstrip("\r\n").split(delimiter)


def has_header(first: list[str], columns: str) -> bool:
    """A file's first line is a header when ``--columns`` uses names, or (by position) when the
    timestamp field there is not a number."""
    if not by_position(columns):
        return True
    i = int(_parse_mapping(columns)[0]["timestamp"]) - 1
    try:
        float(first[i])
        return False
    except (IndexError, ValueError):
        return True
