"""Trace files as published: plain, gzip, zstd (libCacheSim's ``.zst``) or xz, told apart by their
magic bytes, whatever the name says; always streamed, never unpacked to disk.

A name that promises a codec the bytes do not have (``web0.csv.gz`` that is plain text) is a
``DataError``: the user renamed or half-copied something and should know.
"""

from __future__ import annotations

import gzip
import io
import lzma
from pathlib import Path

import numpy as np

from training.errors import DataError

__all__ = ["codec", "open_binary", "arrow_stream", "read_bytes", "DECOMPRESS_ERRORS"]

_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"\xfd7zXZ\x00": "xz"}
_SUFFIX = {".gz": "gzip", ".zst": "zstd", ".xz": "xz"}
# what a truncated or corrupt compressed stream raises, whichever codec and library read it
DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, ValueError)


def codec(path: Path) -> str | None:
    """``gzip``, ``zstd``, ``xz`` or None (plain), from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    found = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    promised = _SUFFIX.get(Path(path).suffix)
    if promised and found != promised:
        raise DataError(f"{path}: name ends in {Path(path).suffix} but the file is not {promised}-compressed")
    return found


class _Raw(io.RawIOBase):
    """A pyarrow input stream as a Python raw stream, so ``io.BufferedReader`` gives it lines."""

    def __init__(self, src) -> None:
        self.src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self.src.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.src.close()
        super().close()


def open_binary(path: Path) -> io.BufferedIOBase:
    """A binary stream of the decompressed bytes (iterates by line). Python's gzip and lzma
    decompress as lines are asked for, so a stream cut short fails at its real line; zstd (which
    Python 3.11 lacks) goes through pyarrow in 64 KiB steps."""
    kind = codec(path)
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind is None:
        return open(path, "rb")
    return io.BufferedReader(_Raw(arrow_stream(path, kind)), 1 << 16)


def arrow_stream(path: Path, kind: str | None = "?"):
    """A stream for pyarrow's readers: its own C++ codecs for gzip and zstd, Python's lzma for xz."""
    import pyarrow as pa

    kind = codec(path) if kind == "?" else kind
    if kind == "xz":
        return pa.PythonFile(lzma.open(path, "rb"), mode="r")
    return pa.input_stream(str(path), compression=kind)


def read_bytes(path: Path) -> bytes | np.ndarray:
    """The whole decompressed file (binary traces, read with ``numpy.frombuffer``): a plain file
    straight into one NumPy buffer (one copy, not two), a compressed one through its codec."""
    import pyarrow as pa

    kind = codec(path)
    try:
        if kind is None:
            return np.fromfile(path, np.uint8)
        with arrow_stream(path, kind) as src:
            return src.read()
    except (*DECOMPRESS_ERRORS, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None
