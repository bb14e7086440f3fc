"""The ``evaluate`` job: two trace files -> the storage scorecard (optionally an MLflow run).

The report is ``{"scorecard": …, "rows": …}``: the scorecard (``training.scorecard``) on the
whole traces, and the row-wise detail (MMD² with the chosen bandwidth, per-column KS / W1, ACF)
with its floor and marginals baseline (``training.fidelity.evaluate``).
"""

from __future__ import annotations

import logging
from pathlib import Path

from training.errors import ConfigError
from training.readers import TraceFrame, read_trace

__all__ = ["evaluate_files", "MIN_ROWS"]

log = logging.getLogger("ganflow.evaluation")

MIN_ROWS = 16  # two halves of two blocks each, and a few windows


def _read(path: str, fmt: str, columns: str, max_lines: int, sort: bool, time_unit: str = "") -> TraceFrame:
    frame = read_trace(path, fmt, max_lines=max_lines, columns=columns, sort=sort, time_unit=time_unit)
    if len(frame) < MIN_ROWS:
        raise ConfigError(f"{frame.source or path}: {len(frame)} rows; evaluation needs at least {MIN_ROWS}")
    return frame


# Mean inter-arrival times this many times apart (either way) in two files, one of unknown unit,
# look like a unit mismatch rather than a model's error (100 ns vs ns is 100x).
UNIT_RATIO = 8.0


def _mean_gap(frame: TraceFrame) -> float:
    t = frame.timestamp
    return float((t.max() - t.min()) / (len(t) - 1)) if len(t) > 1 else 0.0


def _warn_units(real: TraceFrame, real_path: str, synth: TraceFrame, synth_path: str) -> None:
    """Timing lines compare the two files' numbers as they are in ns or as read: say so when one
    file's time unit is known, the other's is not, and their mean inter-arrival times are
    ``UNIT_RATIO`` or more apart (a model's CSV of 100-ns ticks against an MSR file read as ns
    scores inter-arrival KS ~0.85 for no fault of the model; one already in ns is not flagged)."""
    units = [f.meta.get("units", {}).get("source_time_unit", "") for f in (real, synth)]
    if bool(units[0]) == bool(units[1]):
        return
    gaps = _mean_gap(real), _mean_gap(synth)
    ratio = gaps[1] / gaps[0] if min(gaps) > 0 else 1.0
    if 1 / UNIT_RATIO < ratio < UNIT_RATIO:
        return
    known, unknown, flag = (real_path, synth_path, "--synthetic-time-unit") if units[0] else \
        (synth_path, real_path, "--real-time-unit")
    times = f"{ratio:.3g}x" if ratio > 1 else f"1/{1 / ratio:.3g} of"
    log.warning("%s states no time unit and was read as is, %s as ns (from %s); the synthetic trace's mean "
                "inter-arrival time is %s the real's: if that is a unit, pass %s (ns, 100ns, us, ms, s)",
                unknown, known, units[0] or units[1], times, flag)


def evaluate_files(real: str, real_format: str, synthetic: str, synthetic_format: str, *, real_columns: str = "",
                   synthetic_columns: str = "", real_time_unit: str = "", synthetic_time_unit: str = "",
                   reference: str = "", reference_format: str = "",
                   max_lines: int = 0, sort: bool = False, sample: int = 10_000, exact: bool = False,
                   bandwidth: str = "1.0", seed: int = 0, rff: bool = False, detection: bool = True,
                   max_accesses: int | None = None, log_run: bool = False,
                   experiment: str = "trace-gan-eval") -> dict:
    """Read the traces, compute the scorecard and the row-wise detail, optionally log a run.

    ``reference`` (a model's training trace) is where verbatim copies are looked for; without it,
    the real trace itself. ``real_time_unit`` / ``synthetic_time_unit``: a file's time unit where
    its format does not state one (converted to ns, as the formats that state it are).
    """
    from training.fidelity import evaluate
    from training.scorecard import MAX_ACCESSES, TraceData, scorecard

    if sample < 2:
        raise ConfigError(f"sample must be >= 2, but got sample={sample}")
    if max_accesses is not None and max_accesses < 0:
        raise ConfigError(f"max_accesses must be >= 0 (0 = never sample), but got max_accesses={max_accesses}")
    real_frame = _read(real, real_format, real_columns, max_lines, sort, real_time_unit)
    synth_frame = _read(synthetic, synthetic_format, synthetic_columns, max_lines, sort, synthetic_time_unit)
    _warn_units(real_frame, real, synth_frame, synthetic)
    ref = TraceData.from_frame(_read(reference, reference_format or real_format, real_columns, 0, sort)) \
        if reference else None
    card = scorecard(TraceData.from_frame(real_frame), TraceData.from_frame(synth_frame), reference=ref, seed=seed,
                     detection=detection, max_accesses=MAX_ACCESSES if max_accesses is None else max_accesses)
    rows = evaluate(real_frame, synth_frame, sample=sample, exact=exact, bandwidth=bandwidth, seed=seed, rff=rff,
                    sequence=False)
    report = {"real": str(real), "synthetic": str(synthetic), "scorecard": card, "rows": rows}
    if log_run:
        report["run_id"] = _log_run(report, real_frame, synth_frame, experiment, {
            "real": real, "real_format": real_format, "synthetic": synthetic, "synthetic_format": synthetic_format,
            "reference": reference, "sample": sample, "exact": exact, "bandwidth": bandwidth, "seed": seed, "rff": rff})
    return report


def _log_run(report: dict, real: TraceFrame, synth: TraceFrame, experiment: str, params: dict) -> str:
    import mlflow

    from training import plots
    from training.run_info import TRACE_SCHEMA
    from training.scorecard import headline_metrics
    from training.tracking import lineage_tags, log_dataset, tracked_run
    from training.utils import sha256_file

    card = report["scorecard"]
    description = (f"Storage scorecard of {params['synthetic']} against {params['real']} ({card['n_synthetic']:,} vs "
                   f"{card['n_real']:,} rows): {card['verdict']}.")
    with tracked_run(experiment=experiment, run_name=f"eval-{Path(params['synthetic']).name}", tags=lineage_tags(),
                     description=description) as run:
        mlflow.log_params(params)
        for frame, path, context in ((real, params["real"], "validation"), (synth, params["synthetic"], "synthetic")):
            log_dataset(source=str(Path(path).resolve()), name=Path(path).name, sha256=sha256_file(path),
                        context=context, profile={"rows": len(frame)}, columns=TRACE_SCHEMA)
        mlflow.set_tags({"real_sha256": sha256_file(params["real"]), "synthetic_sha256": sha256_file(params["synthetic"]),
                         "scorecard": report["scorecard"]["verdict"]})
        mlflow.log_metrics(headline_metrics(report["scorecard"]))
        mlflow.log_metrics({f"rows_{k}": float(v) for k, v in report["rows"].items()
                            if k.startswith("mmd2") and isinstance(v, float) and v == v})
        mlflow.log_dict(report, "fidelity.json")
        plots.log_figures({"miss_ratio_curves": plots.plot_miss_ratio_curves(card),
                           "sizes": plots.plot_sizes(real.length, synth.length), "iops": plots.plot_iops(card)})
        return run.info.run_id
