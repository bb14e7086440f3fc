"""The feature GAN's commands (``train-features``, ``augment``, ``evaluate-augmentation``,
``generate-features``), registered on the ``ganflow`` group; thin like the rest of the CLI."""

from __future__ import annotations

import click

from ganflow._options import dataclass_options, handle_errors, split_kwargs
from ganflow.cli import _check_output, _quiet_mlflow, _report, main


def _input_options(fn):
    from feature_gan.config import REDUCTIONS, FeatureInput

    return dataclass_options(FeatureInput, choices={"reduce": lambda: list(REDUCTIONS)})(fn)


def _train_options(fn):
    from feature_gan.config import FeatureGANConfig, FeatureRunOptions

    return dataclass_options(FeatureGANConfig)(dataclass_options(FeatureRunOptions)(fn))


@main.command("train-features")
@click.option("--data", default="", help="feature JSON (features|mfcc, labels, mapping) or CSV table; a --resume "
              "reads the run's own")
@_input_options
@_train_options
@click.option("--resume", default="", metavar="RUN_ID",
              help="continue a killed or failed run from its last checkpoint (its own data and config)")
@handle_errors
def train_features(data, resume, **kwargs) -> None:
    """Train the conditional WGAN-GP on labelled feature vectors (13 MFCCs by default)."""
    _quiet_mlflow()
    from feature_gan.config import FeatureGANConfig, FeatureInput, FeatureRunOptions
    from feature_gan.data import load_input
    from training.errors import ConfigError

    table, config, options, _ = split_kwargs(kwargs, FeatureInput, FeatureGANConfig, FeatureRunOptions)
    if resume:  # the run's own table and config; options given here (save_dir, register_as, ...) apply
        from feature_gan.pipeline import resume_spec

        data, table, config = resume_spec(resume)
    elif not data:
        raise ConfigError("train-features needs --data (a feature JSON or CSV table) or --resume RUN_ID")
    dataset = load_input(data, table)
    from feature_gan.pipeline import train_features as run

    run_id, uri, synth, version = run(dataset, config, options, table=table, resume_run_id=resume or None)
    last = synth.history[-1] if synth.history else {}
    _report(f"run {run_id}: {len(synth.history)} epochs, wasserstein {last.get('wasserstein', float('nan')):.4f}; "
            f"{len(dataset.y)} samples, classes {dataset.counts()}")
    if version:
        _report(f"registered models:/{options.register_as}/{version}")


@main.command()
@click.option("--model", "model_uri", required=True, help="models:/mfcc-wgan-gp@champion, runs:/…, or a saved folder")
@click.option("--input", "input_path", required=True, help="feature JSON or CSV to balance")
@click.option("--output", required=True, help="where the augmented dataset goes (same format)")
@click.option("--method", type=click.Choice(["equal", "upsample", "custom"]), default="equal", show_default=True)
@click.option("--target-samples", "--target_samples", "target_samples", type=int, default=None, help="custom: N per class")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="replace an existing output")
@_input_options
@handle_errors
def augment(model_uri, input_path, output, method, target_samples, seed, overwrite, reduce, feature_columns,
            label_column) -> None:
    """Balance an imbalanced feature dataset with a trained feature GAN."""
    _check_output(output, overwrite)
    _quiet_mlflow()
    from feature_gan.augment import augment_file
    from feature_gan.pipeline import load_feature_model
    from serving.registry import resolve_version

    model = load_feature_model(model_uri)
    meta = augment_file(model, input_path, output, method=method, target_samples=target_samples, seed=seed,
                        source_model={"uri": model_uri, **resolve_version(model_uri)}, overwrite=overwrite,
                        reduce=reduce, feature_columns=feature_columns, label_column=label_column)
    _report(f"wrote {output}: {meta['original_samples']} real + {meta['synthetic_samples']} synthetic samples; "
            f"{meta['class_counts_before']} -> {meta['class_counts_after']}")


@main.command("evaluate-augmentation")
@click.option("--data", required=True, help="a balanced labelled feature set (JSON or CSV)")
@_input_options
@click.option("--seeds", type=int, default=5, show_default=True, help="repetitions (split, imbalance, models)")
@click.option("--keep-fraction", "--keep_fraction", "keep_fraction", type=float, default=0.2, show_default=True,
              help="share of training samples kept in each minority class (half the classes)")
@click.option("--gan-epochs", "--gan_epochs", "gan_epochs", type=int, default=300, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the full report as JSON")
@click.option("--log-run/--no-log-run", default=True, show_default=True)
@handle_errors
def evaluate_augmentation(data, reduce, feature_columns, label_column, seeds, keep_fraction, gan_epochs, as_json,
                          log_run) -> None:
    """Classifier utility of GAN augmentation vs random oversampling and SMOTE on an induced imbalance."""
    _quiet_mlflow()
    from feature_gan.config import FeatureGANConfig
    from feature_gan.data import load_features
    from feature_gan.evaluation import dumps, format_table
    from feature_gan.evaluation import evaluate_augmentation as run
    from training.errors import ConfigError

    if seeds < 1 or not 0 < keep_fraction <= 1:
        raise ConfigError(f"need seeds >= 1 and 0 < keep_fraction <= 1, but got {seeds=}, {keep_fraction=}")
    dataset = load_features(data, reduce=reduce, feature_columns=feature_columns, label_column=label_column)
    report = run(dataset, seeds=seeds, keep_fraction=keep_fraction, gan_config=FeatureGANConfig(epochs=gan_epochs),
                 log_run=log_run)
    click.echo(dumps(report) if as_json else format_table(report["summary"]))


@main.command("generate-features")
@click.option("--model", "model_uri", required=True)
@click.option("--class", "class_name", required=True, help="class name (or index)")
@click.option("--n", type=int, required=True, help="vectors to generate")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--output", default="", help="CSV file (default: stdout)")
@click.option("--overwrite", is_flag=True, help="replace an existing --output file")
@handle_errors
def generate_features(model_uri, class_name, n, seed, output, overwrite) -> None:
    """Generate N feature vectors of one class, as CSV."""
    _quiet_mlflow()
    import csv
    import io

    from feature_gan.pipeline import load_feature_model
    from training.errors import ConfigError

    if n < 0:
        raise ConfigError(f"n must be >= 0, but got n={n}")
    _check_output(output, overwrite)
    model = load_feature_model(model_uri)
    x = model.sample(class_name, n, seed=seed)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*model.feature_names, "label"])
    label = model.classes[model.class_index(class_name)]
    w.writerows([*map(float, row), label] for row in x)
    if output:
        from training.utils import atomic_output

        with atomic_output(output, overwrite=overwrite) as fh:
            fh.write(buf.getvalue())
    else:
        click.echo(buf.getvalue(), nl=False)
