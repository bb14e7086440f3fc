"""The ``ganflow`` command line: parse, call library code, report. No logic lives here.

Heavy libraries (torch, mlflow) are imported inside commands so ``ganflow --help`` is instant.
Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import logging
import os

import click

from ganflow._options import dataclass_options, handle_errors, split_kwargs
from training.config import FEATURE_MODES, DataConfig, TraceGANConfig
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
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps")
@click.option("--experiment", default="trace-gan", show_default=True, envvar="MLFLOW_EXPERIMENT_NAME", help="MLflow experiment (ignored under `mlflow run`)")
@click.option("--run_name", "--run-name", default=None, help="MLflow run name")
@click.option("--register_as", "--register-as", default="", help="register the model under this name (empty: do not register)")
@click.option("--alias", default="auto", show_default=True, help="alias for the new version; auto: champion if none yet, else challenger")
@click.option("--checkpoint_every", "--checkpoint-every", type=int, default=10, show_default=True, help="checkpoint every N epochs (the last is always kept); 0 = last only")
@click.option("--save_dir", "--save-dir", default="checkpoints", show_default=True, help="local folder for checkpoints and the saved model")
@click.option("--save_prefix", "--save-prefix", default="trace_gan", show_default=True, help="prefix of the run's local folder")
@click.option("--output_synth", "--output-synth", default="", help="also write a synthetic trace here after training")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows of the synthetic trace")
@click.option("--output_format", "--output-format", type=click.Choice(_OUTPUT_FORMATS), default="seed", show_default=True)
@handle_errors
def train(**kwargs) -> None:
    """Train a trace GAN in a tracked MLflow run (the bundled sample when no --trace_path)."""
    _quiet_mlflow()
    from training.errors import ConfigError
    from training.pipeline import RunOptions
    from training.pipeline import train as run_training

    data, config, rest = split_kwargs(kwargs)
    if rest["num_entries"] < 0 or rest["checkpoint_every"] < 0:
        raise ConfigError(f"num_entries and checkpoint_every must be >= 0, but got "
                          f"num_entries={rest['num_entries']}, checkpoint_every={rest['checkpoint_every']}")
    options = RunOptions(device=rest["device"], experiment=rest["experiment"], run_name=rest["run_name"],
                         register_as=rest["register_as"] or None, alias=rest["alias"],
                         checkpoint_every=rest["checkpoint_every"], save_dir=rest["save_dir"],
                         save_prefix=rest["save_prefix"])
    result = run_training(data, config, options)
    last = result.synthesizer.history[-1]
    _report(f"run {result.run_id}: {last['epoch']} epochs, d_loss {last['d_loss']:.4f}, g_loss {last['g_loss']:.4f}; "
            f"{result.data_info['rows_read']} rows, {result.data_info['distinct_timestamps']} distinct timestamps")
    if result.registered_version:
        alias = f" @{result.alias}" if result.alias else ""
        _report(f"registered models:/{options.register_as}/{result.registered_version}{alias}")
    if rest["output_synth"]:
        from serving.synthesize import synthesize_to_file

        stats = synthesize_to_file(result.synthesizer, rest["num_entries"], rest["output_synth"],
                                   fmt=rest["output_format"], seed=config.seed)
        _report(f"wrote {stats.rows} synthetic rows to {stats.path} ({stats.rows_per_second:,.0f} rows/s)")


@main.command()
@click.option("--model", "model_uri", required=True, help="models:/NAME@ALIAS, models:/NAME/N, runs:/ID/model, or a saved-synthesizer folder")
@click.option("--num_entries", "--num-entries", type=int, default=100_000, show_default=True, help="rows to write")
@click.option("--output_synth", "--output-synth", required=True, help="output file (written atomically)")
@click.option("--format", "--output_format", "--output-format", "fmt", type=click.Choice(_OUTPUT_FORMATS), default="seed", show_default=True)
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
