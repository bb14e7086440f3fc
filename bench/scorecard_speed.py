"""Speed of the storage scorecard on whole traces, beside the previous ``evaluate`` in the same run.

* 100k vs 100k: the MSR web0 trace (first 100,000 requests) against 100,000 rows of the bundled
  sample process (a different trace, as a model's output would be).
* 1M vs 1M: ten copies of the MSR trace, each shifted in time to follow the previous one, against
  1,000,000 sample rows; above ``MAX_ACCESSES`` page accesses the cache curves are spatially
  sampled (SHARDS-adj), and the error that sampling costs is measured on the 100k trace at the
  same rate.
* ``scorecard_warm_s``: a second synthetic trace against the same real one, when the references
  (floor and marginals: four of the five traces) are already computed, as in tuning or when
  comparing models on one held-out trace.
* The previous ``evaluate`` (row-wise metrics, ACF, one detection classifier and a pure-Python
  LRU stack-distance pass) is loaded from the commit before the scorecard, when git has it.

Usage: python bench/scorecard_speed.py [--skip_1m]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, ROOT, require  # noqa: E402

OLD_COMMIT = "9986ae3"  # the last commit with the previous evaluate


def _old_evaluate():
    """``training.fidelity.evaluate`` as it was before the scorecard, or None without git history."""
    try:
        source = subprocess.run(["git", "show", f"{OLD_COMMIT}:training/fidelity.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    path = Path(tempfile.mkdtemp()) / "old_fidelity.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_fidelity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.evaluate


def _tiled(frame, copies: int):
    from training.readers import TraceFrame

    span = int(frame.timestamp[-1]) + int(np.median(np.diff(frame.timestamp)))
    ts = np.concatenate([frame.timestamp + k * span for k in range(copies)])
    tile = lambda a: np.tile(a, copies)  # noqa: E731
    return TraceFrame(ts, tile(frame.length), tile(frame.lba), tile(frame.latency), tile(frame.opcode), "tiled")


def _time(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 2)


def run(real_frame, synth_frame, old) -> dict:
    from training.fidelity import eval_matrix
    from training.sample import make_sample_trace
    from training.scorecard import TraceData, scorecard

    real, synth = TraceData.from_frame(real_frame), TraceData.from_frame(synth_frame)
    card, seconds = _time(lambda: scorecard(real, synth))
    other = TraceData.from_frame(make_sample_trace(len(real), seed=2))
    _, warm = _time(lambda: scorecard(real, other))
    out = {"rows": len(real), "scorecard_s": seconds, "scorecard_warm_s": warm,
           "sampling_rate": round(card["cache"]["sampling_rate"], 4),
           "verdict": card["verdict"], "hrc_mae": round(card["metrics"]["hrc_mae"]["error"], 4)}
    if old is not None:
        _, out["old_evaluate_s"] = _time(lambda: old(eval_matrix(real_frame), eval_matrix(synth_frame), sample=10_000))
    return out


def sampling_error(frame, rate: float) -> float:
    """Mean |exact - sampled| over the ladder and the policies, for one trace, at ``rate``."""
    from training.cachesim import POLICIES, ladder, miss_ratio_curves, page_accesses

    pages, _ = page_accesses(frame.lba, frame.length)
    sizes = ladder(len(np.unique(pages)))
    trace = {"t": (pages, np.full(len(pages), 4096))}
    exact, sampled = (miss_ratio_curves(trace, sizes, rate=r)["t"] for r in (1.0, rate))
    return float(np.mean([np.abs(exact[p] - sampled[p]).mean() for p in POLICIES]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip_1m", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from training.readers import read_trace
    from training.sample import make_sample_trace

    real = read_trace(require(MSR), "msr")
    old = _old_evaluate()
    print(json.dumps(run(real, make_sample_trace(len(real), seed=1), old)), flush=True)
    if not args.skip_1m:
        big = _tiled(real, 10)
        result = run(big, make_sample_trace(len(big), seed=1), old)
        result["sampling_error_at_rate_on_100k"] = round(sampling_error(real, result["sampling_rate"]), 5)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
