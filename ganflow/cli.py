"""The ``ganflow`` command line: parse, call library code, report. No logic lives here.

Heavy libraries (torch, mlflow) are imported inside commands so ``ganflow --help`` is instant.
Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import logging
import os

import click

from ganflow._options import dataclass_options, handle_errors, split_kwargs
from training.config import FEATURE_MODES, DataConfig, RunOptions, TraceGANConfig
from training.readers import reader_names

_OUTPUT_FORMATS = ["seed", "csv", "parquet"]


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
def main(verbose: int) -> None:
    """ganflow: tracked GAN training for synthetic block I/O traces."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ganflow").setLevel(min(level, logging.INFO))


def _report(msg: str) -> None:
    click.echo(msg, err=True)


@main.command()
@dataclass_options(DataConfig, choices={"trace_format": reader_names})
@dataclass_options(TraceGANConfig, choices={"feature_mode": lambda: list(FEATURE_MODES)})
@dataclass_options(RunOptions)
@click.option("--output_synth", "--output-synth", default="", help="also write a synthetic trace here after training")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows of the synthetic trace")
@click.option("--output_format", "--output-format", type=click.Choice(_OUTPUT_FORMATS), default="seed", show_default=True)
@handle_errors
def train(**kwargs) -> None:
    """Train a trace GAN in a tracked MLflow run (the bundled sample when no --trace_path)."""
    _quiet_mlflow()
    from training.errors import ConfigError
    from training.pipeline import train as run_training

    data, config, options, rest = split_kwargs(kwargs)
    if rest["num_entries"] < 0:
        raise ConfigError(f"num_entries must be >= 0, but got num_entries={rest['num_entries']}")
    result = run_training(data, config, options)
    last = result.synthesizer.history[-1]
    val = f", val_mmd2 {result.val_mmd2[max(result.val_mmd2)]:.6g}" if result.val_mmd2 else ""
    _report(f"run {result.run_id}: {last['epoch']} epochs, d_loss {last['d_loss']:.4f}, g_loss {last['g_loss']:.4f}"
            f"{val}; {result.data_info['rows_read']} rows, {result.data_info['distinct_timestamps']} distinct timestamps")
    if result.registered_version:
        alias = f" @{result.alias}" if result.alias else ""
        _report(f"registered models:/{options.register_as}/{result.registered_version}{alias}")
    if rest["output_synth"]:
        from serving.synthesize import synthesize_to_file

        stats = synthesize_to_file(result.synthesizer, rest["num_entries"], rest["output_synth"],
                                   fmt=rest["output_format"], seed=config.seed)
        _report(f"wrote {stats.rows} synthetic rows to {stats.path} ({stats.rows_per_second:,.0f} rows/s)")


@main.command()
@click.option("--real", required=True, help="the real trace")
@click.option("--real-format", "--real_format", "real_format", type=click.Choice(reader_names()), default="seed",
              show_default=True)
@click.option("--synthetic", required=True, help="the synthetic trace")
@click.option("--synthetic-format", "--synthetic_format", "synthetic_format", type=click.Choice(reader_names()),
              default="seed_synth", show_default=True)
@click.option("--max_lines", "--max-lines", type=int, default=0, show_default=True,
              help="read at most this many lines of each file (0 = all)")
@click.option("--sample", type=int, default=10_000, show_default=True, help="rows per side for MMD² and sequence metrics")
@click.option("--exact", is_flag=True, help="MMD² on all rows (blocked, exact) instead of the pinned subsample")
@click.option("--rff", is_flag=True, help="random-Fourier-feature MMD² estimate (very large traces)")
@click.option("--bandwidth", default="1.0", show_default=True, help="σ: a number, a comma list, median or multi (0.1,0.5,1,2,5)")
@click.option("--seed", type=int, default=0, show_default=True, help="pins the subsamples and the marginals baseline")
@click.option("--no-sequence", "no_sequence", is_flag=True, help="skip ACF, hit-ratio curve and detection (faster)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of the table")
@click.option("--log-run", "--log_run", "log_run", is_flag=True, help="also record an MLflow run")
@click.option("--experiment", default="trace-gan-eval", show_default=True, help="experiment for --log-run")
@handle_errors
def evaluate(real, real_format, synthetic, synthetic_format, max_lines, sample, exact, rff, bandwidth, seed,
             no_sequence, as_json, log_run, experiment) -> None:
    """Fidelity of a synthetic trace: MMD² and sequence metrics, each with its real-vs-real floor
    and independent-marginals baseline."""
    import json

    if log_run:
        _quiet_mlflow()
    from training.evaluation import REPORT_METRICS, evaluate_files

    report = evaluate_files(real, real_format, synthetic, synthetic_format, max_lines=max_lines, sample=sample,
                            exact=exact, bandwidth=bandwidth, seed=seed, rff=rff, sequence=not no_sequence,
                            log_run=log_run, experiment=experiment)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    click.echo(f"real {report['n_real']} rows vs synthetic {report['n_synthetic']} rows; σ = "
               f"{', '.join(f'{s:g}' for s in report['bandwidth'])}; MMD² on {report['mmd_sample']} rows per side "
               f"({report['mmd_method']}); {report['scaling']}")
    click.echo(f"{'metric':<16}{'synthetic':>12}{'floor':>12}{'marginals':>12}  meaning")
    for name, meaning in REPORT_METRICS:
        if name in report:
            click.echo(f"{name:<16}{report[name]:>12.5g}{report[name + '_floor']:>12.5g}"
                       f"{report[name + '_marginals']:>12.5g}  {meaning}")
    if "run_id" in report:
        click.echo(f"logged run {report['run_id']}")


@main.command()
@click.option("--model", "model_uri", required=True,
              help="models:/NAME@ALIAS, models:/NAME/N, runs:/ID/model, or a saved-synthesizer folder")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows to write")
@click.option("--output_synth", "--output-synth", required=True, help="output file (written atomically)")
@click.option("--format", "--output_format", "--output-format", "fmt", type=click.Choice(_OUTPUT_FORMATS), default="seed",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed gives the same rows")
@click.option("--device", default="cpu", show_default=True)
@handle_errors
def generate(model_uri: str, num_entries: int, output_synth: str, fmt: str, seed: int, device: str) -> None:
    """Write a synthetic trace of any length from a trained model."""
    _quiet_mlflow()
    from serving.registry import load_synthesizer
    from serving.synthesize import synthesize_to_file
    from training.errors import ConfigError
    from training.utils import resolve_device

    if num_entries < 0:
        raise ConfigError(f"num_entries must be >= 0, but got num_entries={num_entries}")
    loaded = load_synthesizer(model_uri, device=resolve_device(device))
    stats = synthesize_to_file(loaded.synthesizer, num_entries, output_synth, fmt=fmt, seed=seed)
    _report(f"wrote {stats.rows} rows to {stats.path} ({stats.rows_per_second:,.0f} rows/s)")


@main.command("sample-trace")
@click.option("--output", required=True, help="where to write the bundled sample trace")
@click.option("--rows", type=int, default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["seed", "msr"]), default="seed", show_default=True)
@handle_errors
def sample_trace(output: str, rows: int, seed: int, fmt: str) -> None:
    """Write the bundled, seeded sample block trace as a file (seed text or MSR CSV)."""
    from serving.writers import write_trace_frame
    from training.errors import ConfigError
    from training.sample import make_sample_trace

    if rows < 1:
        raise ConfigError(f"rows must be >= 1, but got rows={rows}")
    write_trace_frame(make_sample_trace(rows, seed=seed), output, fmt)
    _report(f"wrote {rows} sample rows to {output} ({fmt})")
