"""MMD² speed, side by side in one run (ratios, not absolute times: the machine is shared).

1. 10k x 10k rows of the MSR trace vs its independent-marginals baseline, σ = 1 on [0, 1]-scaled
   columns: the seed's naive N×N NumPy (``seed_reference.mmd2_unbiased_numpy``) vs ganflow's
   ``mmd2_unbiased`` (auto = exact Taylor-feature expansion at this σ) and its blocked direct mode.
2. The exact MMD² on all 100k x 100k rows (never an N×N matrix), at σ = 1 and, for contrast,
   the multi-bandwidth average, which needs the blocked direct path for σ < 1.

Usage: python bench/mmd_speed.py [--skip-direct-100k]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench._common import MSR, require, seed_reference  # noqa: E402
from training.fidelity import Scaling, eval_matrix, marginals_baseline  # noqa: E402
from training.mmd import mmd2_unbiased  # noqa: E402
from training.readers import read_trace  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigma", type=float, default=1.0)
    ap.add_argument("--with-multi-100k", action="store_true", help="also the 5-bandwidth exact 100k x 100k (slow)")
    args = ap.parse_args()
    ref = seed_reference()
    real = eval_matrix(read_trace(require(MSR), "msr"))
    scale = Scaling(real)
    x_all, y_all = scale(real), scale(marginals_baseline(real, len(real), seed=1))
    rng = np.random.default_rng(0)
    x = x_all[rng.choice(len(x_all), 10_000, replace=False)]
    y = y_all[rng.choice(len(y_all), 10_000, replace=False)]

    naive, t_naive = timed(lambda: ref.mmd2_unbiased_numpy(x, y, args.sigma))
    ours, t_ours = timed(lambda: mmd2_unbiased(x, y, args.sigma))
    direct, t_direct = timed(lambda: mmd2_unbiased(x, y, args.sigma, method="direct"))
    out = {"rows_per_side": 10_000, "sigma": args.sigma,
           "seed_naive_s": round(t_naive, 3), "ganflow_auto_s": round(t_ours, 3), "ganflow_direct_s": round(t_direct, 3),
           "speedup_auto": round(t_naive / t_ours, 1), "speedup_direct": round(t_naive / t_direct, 1),
           "mmd2_naive": naive, "abs_diff_auto": abs(ours - naive), "abs_diff_direct": abs(direct - naive)}
    print(json.dumps(out))

    full, t_full = timed(lambda: mmd2_unbiased(x_all, y_all, args.sigma))
    out100 = {"rows_per_side": len(x_all), "sigma": args.sigma, "exact_mmd2": full, "seconds": round(t_full, 2)}
    print(json.dumps(out100))
    if args.with_multi_100k:
        multi, t_multi = timed(lambda: mmd2_unbiased(x_all, y_all, (0.1, 0.5, 1.0, 2.0, 5.0)))
        print(json.dumps({"rows_per_side": len(x_all), "sigma": "multi", "exact_mmd2": multi, "seconds": round(t_multi, 1)}))


if __name__ == "__main__":
    main()
