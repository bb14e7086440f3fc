"""The ``ganflow`` command line: parse, call library code, report. No logic lives here.

Heavy libraries (torch, mlflow) are imported inside commands so ``ganflow --help`` is instant.
Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import logging
import os

import click

from ganflow._options import (
    AliasChoice,
    OneLineErrors,
    dataclass_options,
    handle_errors,
    seed_recipe_kwargs,
    seed_recipe_option,
    split_kwargs,
)
from training.config import (
    FEATURE_MODE_ALIASES,
    FEATURE_MODES,
    READ_FORMAT_ALIASES,
    WRITE_FORMAT_ALIASES,
    DataConfig,
    RunOptions,
    TraceGANConfig,
)
from training.readers import reader_names
from training.utils import check_output

# serving.writers.WRITERS, without importing pyarrow
_OUTPUT_FORMATS = ["text4", "csv", "parquet", "msr", "mqsim", "disksim", "spc", "alibaba", "tencent", "systor"]


def _readers() -> AliasChoice:
    return AliasChoice(reader_names(), READ_FORMAT_ALIASES)


def _writers() -> AliasChoice:
    return AliasChoice(_OUTPUT_FORMATS, WRITE_FORMAT_ALIASES)


def _feature_modes() -> AliasChoice:
    return AliasChoice(list(FEATURE_MODES), FEATURE_MODE_ALIASES)


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # the system-metrics thread warns on its own when the server goes away; ganflow's one error line says it
    logging.getLogger("mlflow.system_metrics").setLevel(logging.ERROR)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug), third-party warnings included")
@click.option("-q", "--quiet", is_flag=True, help="no progress bars or progress lines: only results and errors")
def main(verbose: int, quiet: bool) -> None:
    """ganflow: tracked GAN training for synthetic block I/O traces."""
    import sys
    import warnings

    from training import progress

    if verbose == 0:  # MLflow configures its own loggers at import; this is the level it reads
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        warnings.filterwarnings("ignore")  # scipy, sklearn, mlflow: their warnings are not the user's to act on
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s" if verbose == 0 else "%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ganflow").setLevel(logging.WARNING if quiet else min(level, logging.INFO))
    progress.enable(sys.stderr.isatty() and not quiet)


def _report(msg: str) -> None:
    click.echo(msg, err=True)


def _time_unit_note(transformer, fmt: str) -> str | None:
    """What unit a written trace's times are in, for a format that cannot say (Parquet carries it)."""
    from training.units import NS_PER

    units = getattr(transformer, "units_", None) or {}
    if fmt not in ("text4", "csv") or not units.get("timestamp"):  # Parquet and the published layouts state it
        return None
    per_s = units.get("ticks_per_second")
    flag = next((u for u, ns in NS_PER.items() if per_s and abs(per_s * ns - 1e9) < 1e-3), None)
    return (f"times in {units['timestamp']}"
            + (f" (ganflow evaluate --synthetic-time-unit {flag} against a trace whose format states its unit)"
               if flag else ""))


def _tune_options(fn):
    from tuning.options import PRUNERS, TuneOptions

    return dataclass_options(TuneOptions, choices={"pruner": lambda: list(PRUNERS)})(fn)


@main.command()
@dataclass_options(DataConfig, choices={"trace_format": _readers})
@dataclass_options(TraceGANConfig, choices={"feature_mode": _feature_modes})
@dataclass_options(RunOptions)
@click.option("--output_synth", "--output-synth", default="", help="also write a synthetic trace here after training")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows of the synthetic trace")
@click.option("--output_format", "--output-format", type=_writers(), default="text4", show_default=True)
@click.option("--overwrite", is_flag=True, help="replace an existing --output_synth file")
@click.option("--resume", default="", metavar="RUN_ID",
              help="continue a killed or failed run from its last checkpoint (its own config and data)")
@seed_recipe_option
@handle_errors
@click.pass_context
def train(ctx: click.Context, seed_recipe: bool, resume: str, **kwargs) -> None:
    """Train a trace GAN in a tracked MLflow run (the bundled sample when no --trace_path)."""
    from training.data import check_enough_rows, load_frame
    from training.errors import ConfigError

    if seed_recipe:
        kwargs.update(seed_recipe_kwargs(ctx))
    data, config, options, rest = split_kwargs(kwargs)  # DataConfig, TraceGANConfig, RunOptions
    if rest["num_entries"] < 0:
        raise ConfigError(f"num_entries must be >= 0, but got num_entries={rest['num_entries']}")
    check_output(rest["output_synth"], rest["overwrite"])
    _quiet_mlflow()
    if resume:  # the run's own data and config; options given here (save_dir, register_as, ...) apply
        from training.pipeline import resume_spec

        data, config = resume_spec(resume)
    frame, data_info = load_frame(data)  # bad data fails here, before torch or MLflow load
    check_enough_rows(frame, config)
    from training.pipeline import train as run_training

    result = run_training(data, config, options, frame=frame, data_info=data_info, resume_run_id=resume or None)
    last = result.synthesizer.history[-1]
    kept, val = result.model_val_mmd2, ""
    if kept is not None:
        after = ", calibrated" if result.scored_as_saved else \
            f"; {result.calibrated['val_mmd2']:.6g} calibrated" if result.calibrated else ""
        val = f", val_mmd2 {kept:.6g} (generator of epoch {result.model_epoch}{after})"
    _report(f"run {result.run_id}: {last['epoch']} epochs, d_loss {last['d_loss']:.4f}, g_loss {last['g_loss']:.4f}"
            f"{val}; {result.data_info['rows_read']} rows, {result.data_info['distinct_timestamps']} distinct timestamps")
    if result.registered_version:
        alias = f" @{result.alias}" if result.alias else ""
        _report(f"registered models:/{options.register_as}/{result.registered_version}{alias}")
    if rest["output_synth"]:
        from serving.synthesize import synthesize_to_file

        stats = synthesize_to_file(result.synthesizer, rest["num_entries"], rest["output_synth"],
                                   fmt=rest["output_format"], seed=config.seed, overwrite=True)
        _report(f"wrote {stats.rows} synthetic rows to {stats.path} ({stats.rows_per_second:,.0f} rows/s)")
        if note := _time_unit_note(result.synthesizer.transformer, rest["output_format"]):
            _report(note)


@main.command()
@click.option("--real", required=True, help="the real trace (held-out data when scoring a model)")
@click.option("--real-format", "--real_format", "real_format", type=_readers(), default="text6",
              show_default=True)
@click.option("--real-columns", "--real_columns", "real_columns", default="", help="csv column map of the real trace")
@click.option("--synthetic", required=True, help="the synthetic trace")
@click.option("--synthetic-format", "--synthetic_format", "synthetic_format", type=_readers(),
              default="text4", show_default=True)
@click.option("--synthetic-columns", "--synthetic_columns", "synthetic_columns", default="",
              help="csv column map of the synthetic trace")
@click.option("--real-time-unit", "--real_time_unit", "real_time_unit", default="",
              help="formats that do not say: the real file's time unit (ns, 100ns, us, ms, s), converted to ns")
@click.option("--synthetic-time-unit", "--synthetic_time_unit", "synthetic_time_unit", default="",
              help="formats that do not say: the synthetic file's time unit (a model's output is in its training "
                   "trace's ticks: 100ns for the bundled sample)")
@click.option("--reference", default="", help="the model's training trace: verbatim copies are looked for there "
              "(default: the real trace); read with --real-format")
@click.option("--max_lines", "--max-lines", type=int, default=0, show_default=True,
              help="read at most this many lines of each file (0 = all)")
@click.option("--sort-by-time", "--sort_by_time", "sort_by_time", is_flag=True,
              help="sort the traces by timestamp instead of refusing one that goes back in time")
@click.option("--sample", type=int, default=10_000, show_default=True, help="rows per side for the row-wise MMD² detail")
@click.option("--exact", is_flag=True, help="row-wise MMD² on all rows (blocked, exact) instead of the pinned subsample")
@click.option("--rff", is_flag=True, help="random-Fourier-feature MMD² estimate (very large traces)")
@click.option("--bandwidth", default="1.0", show_default=True, help="σ: a number, a comma list, median or multi (0.1,0.5,1,2,5)")
@click.option("--seed", type=int, default=0, show_default=True, help="pins the subsamples, classifiers and marginals baseline")
@click.option("--no-detection", "--no-sequence", "no_detection", is_flag=True,
              help="skip the window classifiers (faster)")
@click.option("--max-accesses", "--max_accesses", "max_accesses", type=int, default=None,
              help="page accesses per trace simulated exactly; longer traces are spatially sampled "
                   "(default 4,000,000; 0 = never sample)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of the table")
@click.option("--log-run", "--log_run", "log_run", is_flag=True, help="also record an MLflow run (metrics, fidelity.json, plots)")
@click.option("--experiment", default="trace-gan-eval", show_default=True, help="experiment for --log-run")
@handle_errors
def evaluate(real, real_format, real_columns, synthetic, synthetic_format, synthetic_columns, real_time_unit,
             synthetic_time_unit, reference, max_lines, sort_by_time, sample, exact, rff, bandwidth, seed, no_detection,
             max_accesses, as_json, log_run, experiment) -> None:
    """The storage scorecard of a synthetic trace: cache miss-ratio curves (libCacheSim), locality,
    sizes and ops, timing and detection, each beside its real-vs-real floor and marginals baseline."""
    import json

    if log_run:
        _quiet_mlflow()
    from training.evaluation import evaluate_files
    from training.scorecard import format_scorecard

    report = evaluate_files(real, real_format, synthetic, synthetic_format, real_columns=real_columns,
                            synthetic_columns=synthetic_columns, real_time_unit=real_time_unit,
                            synthetic_time_unit=synthetic_time_unit, reference=reference, max_lines=max_lines,
                            sort=sort_by_time, sample=sample, exact=exact, bandwidth=bandwidth, seed=seed, rff=rff,
                            detection=not no_detection, max_accesses=max_accesses, log_run=log_run,
                            experiment=experiment)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    for line in format_scorecard(report["scorecard"]):
        click.echo(line)
    rows = report["rows"]
    click.echo(f"row-wise MMD² (σ = {', '.join(f'{s:g}' for s in rows['bandwidth'])}, {rows['mmd_sample']} rows per "
               f"side): {rows['mmd2']:.5g} (floor {rows['mmd2_floor']:.5g}, marginals {rows['mmd2_marginals']:.5g}); "
               "per-column detail with --json")
    if "run_id" in report:
        click.echo(f"logged run {report['run_id']}")


@main.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="print the scorecards as one JSON object")
@click.option("--log-run", "--log_run", "log_run", is_flag=True,
              help="also record an MLflow run with the table and overlaid miss-ratio-curve and size plots")
@click.option("--experiment", default="trace-gan-compare", show_default=True, help="experiment for --log-run")
@handle_errors
def compare(runs, as_json, log_run, experiment) -> None:
    """Scorecards of trace runs side by side: RUNS are run IDs, runs:/ID or models:/NAME@ALIAS."""
    import json

    _quiet_mlflow()
    from serving.compare import compare_table, load_cards, log_comparison

    cards = load_cards(list(runs))
    if as_json:
        click.echo(json.dumps({c.run_id: {"name": c.name, "scorecard": c.card} for c in cards}, sort_keys=True))
        return
    lines = compare_table(cards)
    for line in lines:
        click.echo(line)
    if log_run:
        _report(f"logged run {log_comparison(cards, lines, experiment)}")


@main.command()
@click.option("--model", "model_uri", required=True,
              help="models:/NAME@ALIAS, models:/NAME/N, runs:/ID/model, a saved-synthesizer folder or a .onnx file")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows to write")
@click.option("--output_synth", "--output-synth", required=True,
              help="output file (written atomically); --engine spark: a folder of stream=K/ parts")
@click.option("--format", "--output_format", "--output-format", "fmt", type=_writers(), default="text4",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="the same seed (and --streams) gives the same rows, whatever --shards/--workers")
@click.option("--engine", type=click.Choice(["auto", "onnx", "torch", "spark"]), default="auto", show_default=True,
              help="auto: onnxruntime for ONNX models, torch otherwise; onnx: export a torch model on the fly; "
                   "spark: one Spark task per stream, written as OUTPUT/stream=K/ parts (README: Spark)")
@click.option("--streams", type=int, default=1, show_default=True,
              help="carried-state models: independent streams, written one after another (in parallel with --workers)")
@click.option("--shards", type=int, default=1, show_default=True,
              help="models of independent windows: contiguous block ranges of the one stream, written in parallel")
@click.option("--workers", type=int, default=1, show_default=True, help="worker processes for the streams or shards")
@click.option("--rows_per_stream", "--rows-per-stream", type=int, default=0, show_default=True,
              help="--engine spark: rows of each stream (0: --num_entries split over the streams)")
@click.option("--master", default="", help="--engine spark: the Spark master (default: spark-submit's, else local[*])")
@click.option("--overwrite", is_flag=True, help="replace an existing output file")
@click.option("--progress/--no-progress", default=None, help="progress bar on stderr (default: when it is a terminal)")
@click.option("--lineage/--no-lineage", default=True, show_default=True, help="record an MLflow run of what was written")
@click.option("--device", default="cpu", show_default=True)
@handle_errors
def generate(model_uri, num_entries, output_synth, fmt, seed, engine, streams, shards, workers, rows_per_stream, master,
             overwrite, progress, lineage, device) -> None:
    """Write a synthetic trace of any length from a trained model, in constant memory."""
    _quiet_mlflow()
    from serving.registry import load_any
    from serving.synthesize import log_lineage, synthesize_to_file
    from training.errors import ConfigError

    if num_entries < 0:
        raise ConfigError(f"num_entries must be >= 0, but got num_entries={num_entries}")
    if engine == "spark":
        if shards != 1 or workers != 1:
            raise ConfigError("--shards and --workers are the local engine's; with --engine spark the master's "
                              "cores run the streams (--master local[N] or the cluster's)")
        return _generate_on_spark(model_uri, num_entries, output_synth, fmt, seed, streams, rows_per_stream, master,
                                  overwrite, lineage)
    check_output(output_synth, overwrite)
    loaded = load_any(model_uri, device=device, engine=engine)
    model = loaded.synthesizer
    stats = synthesize_to_file(model, num_entries, output_synth, fmt=fmt, seed=seed, shards=shards, streams=streams,
                               workers=workers, overwrite=overwrite, progress=progress)
    parts = "stream(s)" if model.config.carry_state else "shard(s)"
    _report(f"wrote {stats.rows} rows to {stats.path} ({stats.rows_per_second:,.0f} rows/s, "
            f"{model.engine}, {stats.shards} {parts})")
    if note := _time_unit_note(model.transformer, fmt):
        _report(note)
    if lineage:
        run_id = log_lineage(stats, model_uri=model_uri, lineage=loaded.lineage, seed=seed)
        _report(f"lineage run {run_id}")


def _generate_on_spark(model_uri, num_entries, output, fmt, seed, streams, rows_per_stream, master, overwrite,
                       lineage) -> None:
    from serving.spark import generate_on_spark, spark_session
    from serving.synthesize import log_lineage

    spark = spark_session(master)
    stats = generate_on_spark(spark, model_uri, streams=streams, rows_per_stream=rows_per_stream,
                              num_rows=0 if rows_per_stream else num_entries, output=output, fmt=fmt, seed=seed,
                              overwrite=overwrite)
    _report(f"wrote {stats.rows} rows to {stats.path}/stream=0..{stats.streams - 1} ({stats.rows_per_second:,.0f} rows/s "
            f"on Spark {stats.master}, {stats.model_engine}; per-task model load {min(stats.load_seconds):.1f}-"
            f"{max(stats.load_seconds):.1f} s)")
    if lineage:
        from serving.registry import resolve_version

        _report(f"lineage run {log_lineage(stats, model_uri=model_uri, lineage=resolve_version(model_uri), seed=seed)}")


@main.command()
@click.option("--model", "model_uri", required=True, help="the torch model to export (models:/, runs:/ or a saved folder)")
@click.option("--register-as", "--register_as", "register_as", default="",
              help="registered name of the ONNX model (default: <source name>-onnx for models:/ sources)")
@click.option("--output", default="", help="also write the .onnx file here")
@click.option("--experiment", default="trace-gan-export", show_default=True)
@click.option("--overwrite", is_flag=True, help="replace an existing --output file")
@handle_errors
def export(model_uri: str, register_as: str, output: str, experiment: str, overwrite: bool) -> None:
    """Export a trace GAN to ONNX (noise in, real units out), check parity, log and register it."""
    check_output(output, overwrite)
    _quiet_mlflow()
    from serving.export import export_model

    result = export_model(model_uri, register_as=register_as or None, output=output or None, experiment=experiment,
                          overwrite=overwrite)
    _report(f"exported {model_uri} -> {result.model_uri} (run {result.run_id}; max |torch - onnx| = "
            f"{result.parity:.2g} of a column span)")
    if result.registered_version:
        alias = f" @{result.alias}" if result.alias else ""
        _report(f"registered models:/{result.registered_name}/{result.registered_version}{alias}")


@main.command()
@dataclass_options(DataConfig, choices={"trace_format": _readers})
@dataclass_options(TraceGANConfig, exclude=("num_epochs",), choices={"feature_mode": _feature_modes})
@dataclass_options(RunOptions, exclude=("register_as", "alias", "stop_on_collapse"),
                   defaults={"experiment": "trace-gan-tune", "plots": False, "eval_every": 2})
@_tune_options
@click.option("--create-only", "--create_only", "create_only", is_flag=True,
              help="create the study and the MLflow experiment, then exit (run once before starting workers)")
@seed_recipe_option
@handle_errors
@click.pass_context
def tune(ctx: click.Context, create_only: bool, seed_recipe: bool, **kwargs) -> None:
    """Optuna search of the trace GAN (D:G ratio, learning rates, batch size, seq_len) scored by
    val_mmd2, one nested MLflow run per trial; many workers can share one study."""
    _quiet_mlflow()
    logging.getLogger("optuna").setLevel(logging.WARNING)
    from tuning.options import TuneOptions
    from tuning.study import tune as run_tune

    if seed_recipe:
        kwargs.update(seed_recipe_kwargs(ctx))
    # TuneOptions first: it owns --register_as (the trials' RunOptions must not take it)
    data, base, opts, options, rest = split_kwargs(kwargs, DataConfig, TraceGANConfig, TuneOptions, RunOptions)
    result = run_tune(data, base, options, opts, create_only=create_only)
    if create_only:
        _report(f"study {result.study_name!r} ready in {result.storage}")
        return
    best = f"best {opts.objective} {result.best_value:.6g} with {result.best_params}" if result.best_value is not None \
        else "no completed trial"
    _report(f"study {result.study_name!r}: {result.trials} finished trials; {best}; parent run {result.parent_run_id}")
    if result.registered_version:
        _report(f"registered models:/{opts.register_as}/{result.registered_version} @{result.alias}")


@main.command()
@click.argument("trace")
@click.option("--format", "--trace_format", "--trace-format", "fmt", type=_readers(), default="text6",
              show_default=True)
@click.option("--columns", default="", help="csv, text, parquet: column map by name (timestamp=Time,length=Size,"
              "lba=Offset,latency=RT) or 1-based position (timestamp=1,length=4,lba=3)")
@click.option("--max_lines", "--max-lines", type=int, default=0, show_default=True, help="read at most this many lines")
@click.option("--sort-by-time", "--sort_by_time", "sort_by_time", is_flag=True, help="sort instead of refusing time going back")
@click.option("--volume", default="", help="multi-volume formats: volume ids to keep (comma-separated) or all")
@click.option("--time_unit", "--time-unit", default="", help="formats that do not say: the file's time unit "
              "(ns, 100ns, us, ms, s), converted to ns")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@handle_errors
def inspect(trace, fmt, columns, max_lines, sort_by_time, volume, time_unit, as_json) -> None:
    """A quick profile of a trace before training: rows, time span and rate, columns and units,
    top sizes, read fraction, footprint and reuse rate."""
    import json

    from training.errors import ConfigError
    from training.readers import read_trace
    from training.trace_profile import format_profile, profile

    if max_lines < 0:
        raise ConfigError(f"max_lines must be >= 0 (0 = all), but got max_lines={max_lines}")
    p = profile(read_trace(trace, fmt, max_lines=max_lines, columns=columns, sort=sort_by_time, volume=volume,
                           time_unit=time_unit), fmt)
    if as_json:
        click.echo(json.dumps(p, sort_keys=True))
        return
    for line in format_profile(p):
        click.echo(line)


@main.command("sample-trace")
@click.option("--output", required=True, help="where to write the bundled sample trace")
@click.option("--rows", type=int, default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=AliasChoice(["text6", "msr"], READ_FORMAT_ALIASES), default="text6", show_default=True)
@click.option("--overwrite", is_flag=True, help="replace an existing output")
@handle_errors
def sample_trace(output: str, rows: int, seed: int, fmt: str, overwrite: bool) -> None:
    """Write the bundled, seeded sample block trace as a file (text6 or MSR CSV)."""
    from serving.writers import write_trace_frame
    from training.errors import ConfigError
    from training.sample import make_sample_trace

    if rows < 1:
        raise ConfigError(f"rows must be >= 1, but got rows={rows}")
    check_output(output, overwrite)
    write_trace_frame(make_sample_trace(rows, seed=seed), output, fmt, overwrite=overwrite)
    _report(f"wrote {rows} sample rows to {output} ({fmt})")


# the feature GAN's commands register themselves on `main`
from ganflow import _feature_cli  # noqa: E402, F401
