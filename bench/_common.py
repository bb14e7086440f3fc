"""Helpers shared by the benchmarks: where the shared data and the seed reference live."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MSR = SHARED / "data" / "msr_web0" / "web0_head100k.csv.gz"
GTZAN = SHARED / "data" / "gtzan_30sec" / "features_30_sec.csv"
SEED_REFERENCE = SHARED / "bench" / "seed_reference.py"


def require(path: Path) -> Path:
    """Exit cleanly (status 0, one line) when shared benchmark data is absent."""
    if not path.exists():
        print(f"skipped: {path} is absent (benchmarks read ../shared/data; a fresh clone has none)")
        sys.exit(0)
    return path


def seed_reference():
    """Import ../shared/bench/seed_reference.py as a module (the seed's recipe, verbatim)."""
    spec = importlib.util.spec_from_file_location("seed_reference", require(SEED_REFERENCE))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
