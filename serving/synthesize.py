"""Batch synthesis: a Synthesizer's chunks -> a writer, in constant memory, atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from serving.writers import open_writer
from training.synthesizer import Synthesizer

__all__ = ["SynthesisStats", "synthesize_to_file"]

log = logging.getLogger(__name__)


@dataclass
class SynthesisStats:
    rows: int
    seconds: float
    path: str
    fmt: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def synthesize_to_file(synth: Synthesizer, n_rows: int, path: str | Path, *, fmt: str = "seed",
                       seed: int = 0, overwrite: bool = True) -> SynthesisStats:
    """Write ``n_rows`` synthetic rows to ``path``; the file appears whole or not at all."""
    start = time.perf_counter()
    written = 0
    with open_writer(path, fmt, overwrite=overwrite) as writer:
        for chunk in synth.sample_chunks(n_rows, seed=seed):
            writer.write(chunk)
            written += len(chunk)
    stats = SynthesisStats(written, time.perf_counter() - start, str(path), fmt)
    log.info("wrote %d rows to %s (%s) in %.2fs", written, path, fmt, stats.seconds)
    return stats
