"""The ``evaluate`` job: two trace files -> fidelity report (optionally an MLflow run)."""

from __future__ import annotations

import mlflow

from training.errors import ConfigError
from training.fidelity import evaluate
from training.readers import read_trace
from training.tracking import lineage_tags, tracked_run
from training.utils import sha256_file

__all__ = ["evaluate_files", "REPORT_METRICS"]

# (name, what it measures) in the order the table prints them
REPORT_METRICS = (
    ("mmd2", "unbiased RBF MMD² on rows"),
    ("ks_timestamp", "KS statistic, timestamp"), ("ks_length", "KS statistic, length"),
    ("ks_lba", "KS statistic, LBA"), ("ks_latency", "KS statistic, latency"),
    ("w1_timestamp", "Wasserstein-1, timestamp"), ("w1_length", "Wasserstein-1, length"),
    ("w1_lba", "Wasserstein-1, LBA"), ("w1_latency", "Wasserstein-1, latency"),
    ("interarrival_ks", "inter-arrival KS"), ("interarrival_w1", "inter-arrival W1 (log10 ticks)"),
    ("acf_err", "mean |ACF error|, lags 1-5"), ("hrc_err", "LRU hit-ratio-curve error"),
    ("detection", "real-vs-synthetic classifier accuracy"),
)


def evaluate_files(real: str, real_format: str, synthetic: str, synthetic_format: str, *,
                   max_lines: int = 0, sort: bool = False, sample: int = 10_000, exact: bool = False,
                   bandwidth: str = "1.0", seed: int = 0, rff: bool = False, sequence: bool = True,
                   log_run: bool = False, experiment: str = "trace-gan-eval") -> dict:
    """Read both traces, compute every fidelity figure with its references, optionally log it."""
    if sample < 2:
        raise ConfigError(f"sample must be >= 2, but got sample={sample}")
    real_frame = read_trace(real, real_format, max_lines=max_lines, sort=sort)
    synth_frame = read_trace(synthetic, synthetic_format, max_lines=max_lines)
    for frame in (real_frame, synth_frame):
        if len(frame) < 4:
            raise ConfigError(f"{frame.source}: {len(frame)} rows; evaluation needs at least 4")
    report = evaluate(real_frame, synth_frame, sample=sample, exact=exact, bandwidth=bandwidth, seed=seed,
                      rff=rff, sequence=sequence)
    report.update({"real": str(real), "synthetic": str(synthetic)})
    if log_run:
        with tracked_run(experiment=experiment, tags=lineage_tags()) as run:
            mlflow.log_params({"real": real, "real_format": real_format, "synthetic": synthetic,
                               "synthetic_format": synthetic_format, "sample": sample, "exact": exact,
                               "bandwidth": bandwidth, "seed": seed, "rff": rff})
            mlflow.set_tags({"real_sha256": sha256_file(real), "synthetic_sha256": sha256_file(synthetic)})
            mlflow.log_metrics({k: float(v) for k, v in report.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v})
            mlflow.log_dict(report, "fidelity.json")
            report["run_id"] = run.info.run_id
    return report
