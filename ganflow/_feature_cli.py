"""The feature GAN's commands (``train-features``, ``augment``, ``evaluate-augmentation``,
``generate-features``), registered on the ``ganflow`` group; thin like the rest of the CLI."""

from __future__ import annotations

import click

from ganflow._options import dataclass_options, handle_errors, split_kwargs
from ganflow.cli import _quiet_mlflow, _report, main
from training.utils import check_output


def _input_options(fn):
    from feature_gan.config import REDUCTIONS, FeatureInput

    return dataclass_options(FeatureInput, choices={"reduce": lambda: list(REDUCTIONS)})(fn)


def _tune_options(fn):
    from feature_gan.config import FeatureTuneOptions

    return dataclass_options(FeatureTuneOptions)(fn)


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
@click.option("--filter", "use_filter", is_flag=True, help="keep only generated vectors that a classifier of the real "
              "data puts in their class and that lie within the class's real support")
@_input_options
@handle_errors
def augment(model_uri, input_path, output, method, target_samples, seed, overwrite, use_filter, reduce, feature_columns,
            label_column) -> None:
    """Balance an imbalanced feature dataset with a trained feature GAN."""
    check_output(output, overwrite)
    _quiet_mlflow()
    from feature_gan.augment import augment_file
    from feature_gan.pipeline import load_feature_model
    from serving.registry import resolve_version

    model = load_feature_model(model_uri)
    meta = augment_file(model, input_path, output, method=method, target_samples=target_samples, seed=seed,
                        source_model={"uri": model_uri, **resolve_version(model_uri)}, overwrite=overwrite,
                        use_filter=use_filter, reduce=reduce, feature_columns=feature_columns, label_column=label_column)
    _report(f"wrote {output}: {meta['original_samples']} real + {meta['synthetic_samples']} synthetic samples; "
            f"{meta['class_counts_before']} -> {meta['class_counts_after']}")


@main.command("evaluate-augmentation")
@click.option("--data", required=True, help="a balanced labelled feature set (JSON or CSV)")
@_input_options
@click.option("--seeds", type=int, default=5, show_default=True, help="repetitions (imbalance, models; and the split "
              "unless --split)")
@click.option("--keep-fraction", "--keep_fraction", "keep_fraction", type=float, default=0.2, show_default=True,
              help="share of training samples kept in each minority class (half the classes)")
@click.option("--gan-epochs", "--gan_epochs", "gan_epochs", type=int, default=300, show_default=True,
              help="epochs of the GAN with the reference constants (ignored with --gan_model)")
@click.option("--gan-model", "--gan_model", "gan_model", default="",
              help="use this model's configuration (e.g. a tuned models:/mfcc-wgan-gp@champion) for the GAN rows, "
                   "retrained on each seed's training part")
@click.option("--methods", default="imbalanced,random_oversampling,smote,borderline_smote,adasyn,gan,gan_filtered",
              show_default=True, help="comma-separated")
@click.option("--split", type=int, default=None, help="one test split for every seed, drawn with this seed (what a "
              "GAN tuned on that split's training part needs)")
@click.option("--json", "as_json", is_flag=True, help="print the full report as JSON")
@click.option("--log-run/--no-log-run", default=True, show_default=True)
@handle_errors
def evaluate_augmentation(data, reduce, feature_columns, label_column, seeds, keep_fraction, gan_epochs, gan_model,
                          methods, split, as_json, log_run) -> None:
    """Classifier utility of GAN augmentation vs random oversampling, SMOTE, Borderline-SMOTE and ADASYN
    on an induced imbalance: a table, and with --log-run a plot and the per-seed scores in MLflow."""
    _quiet_mlflow()
    from feature_gan.config import FeatureGANConfig, FeatureInput
    from feature_gan.data import load_input
    from feature_gan.evaluation import METHODS, dumps, format_table
    from feature_gan.evaluation import evaluate_augmentation as run
    from training.errors import ConfigError

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    unknown = [m for m in chosen if m not in METHODS]
    if seeds < 1 or not 0 < keep_fraction <= 1 or unknown or not chosen:
        raise ConfigError(f"need seeds >= 1, 0 < keep_fraction <= 1 and methods among {', '.join(METHODS)}, but got "
                          f"{seeds=}, {keep_fraction=}, methods {methods!r}")
    dataset = load_input(data, FeatureInput(reduce, feature_columns, label_column))
    config, label = FeatureGANConfig(epochs=gan_epochs), ""
    if gan_model:
        from feature_gan.pipeline import load_feature_model

        config, label = load_feature_model(gan_model).config, f"the configuration of {gan_model}"
    report = run(dataset, seeds=seeds, keep_fraction=keep_fraction, gan_config=config, log_run=log_run, methods=chosen,
                 split=split, gan_label=label)
    click.echo(dumps(report) if as_json else format_table(report["summary"]))


@main.command("tune-features")
@click.option("--data", required=True, help="the (imbalanced) training table, JSON or CSV: validation is carved from it")
@_input_options
@_tune_options
@click.option("--epochs_cap", "--epochs-cap", type=int, default=0, help="cap the searched epochs (0: 50-300)")
@handle_errors
def tune_features(data, epochs_cap, **kwargs) -> None:
    """Optuna search of the feature GAN (learning rate, n_critic, lambda, width, depth, dropout, batch,
    epochs, filter) scored by the classifiers' utility on validation splits; registers the best."""
    _quiet_mlflow()
    import logging

    logging.getLogger("optuna").setLevel(logging.WARNING)
    from feature_gan.config import FeatureInput, FeatureTuneOptions
    from feature_gan.data import load_input
    from feature_gan.tune import tune_features as run

    table, options, _ = split_kwargs(kwargs, FeatureInput, FeatureTuneOptions)
    dataset = load_input(data, table)
    result = run(dataset, options, table=table, epochs_cap=epochs_cap)
    best = f"best objective {result.best_value:.4f} with {result.best_params}" if result.best_value is not None \
        else "no completed trial"
    _report(f"study {result.study_name!r}: {result.trials} finished trials ({result.pruned} pruned); {best}; "
            f"parent run {result.parent_run_id}")
    if result.registered_version:
        _report(f"registered models:/{options.register_as}/{result.registered_version} @{result.alias}")


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
    check_output(output, overwrite)
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
