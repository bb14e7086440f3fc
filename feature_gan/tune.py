"""Optuna search of the feature GAN, scored by what it is for: the utility of the augmented set.

The data given is the (imbalanced) training data; nothing else is seen. Each trial draws a
configuration (learning rate, n_critic, λ, width, depth, dropout, batch size, epochs, and whether
generated vectors pass ``feature_gan.quality.SampleFilter``) and, on ``val_splits`` stratified
splits of the data (``val_fraction`` of each class held out), trains the GAN on the rest,
balances it up to the majority count, fits logistic regression and a random forest, and scores
them on the held-out part. The trial's value is the mean over splits and classifiers of
(macro-F1 + minority recall) / 2, minority classes being those below the median class count;
each split's running mean is reported to Optuna's median pruner.

Tracked like the trace GAN's ``tune``: one parent run per invocation, a nested run per trial
(params, per-split scores, value), the best trial's params on the parent. With ``register_as``
the best configuration is trained on all the data (``train_features``, nested) and registered:
``@champion`` if its validation objective beats the current champion's configuration measured
the same way on the same splits, else ``@challenger``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from feature_gan.config import FeatureGANConfig, FeatureInput, FeatureRunOptions, FeatureTuneOptions
from feature_gan.data import FeatureData

__all__ = ["suggest", "config_of", "validation_objective", "tune_features", "TuneResult", "minority_classes"]


@dataclass
class TuneResult:
    study_name: str
    trials: int
    best_value: float | None
    best_params: dict
    parent_run_id: str
    pruned: int = 0
    registered_version: str | None = None
    alias: str | None = None
    champion_value: float | None = None


EPOCHS = (50, 100, 200, 300)


def suggest(trial, base: FeatureGANConfig, epochs_cap: int = 0) -> tuple[FeatureGANConfig, bool]:
    """A configuration and whether to filter generated vectors (epochs at most ``epochs_cap`` if set)."""
    epochs = [e for e in EPOCHS if not epochs_cap or e <= epochs_cap] or [epochs_cap]
    config = replace(base, lr=trial.suggest_float("lr", 1e-5, 1e-3, log=True),
                     n_critic=trial.suggest_categorical("n_critic", [1, 2, 3, 5]),
                     lambda_gp=trial.suggest_float("lambda_gp", 1.0, 20.0, log=True),
                     hidden_dim=trial.suggest_categorical("hidden_dim", [64, 128, 256]),
                     num_layers=trial.suggest_int("num_layers", 1, 3),
                     dropout=trial.suggest_float("dropout", 0.0, 0.5),
                     batch_size=trial.suggest_categorical("batch_size", [16, 32, 64]),
                     epochs=trial.suggest_categorical("epochs", epochs))
    return config, trial.suggest_categorical("filter", [False, True])


def config_of(params: dict, base: FeatureGANConfig) -> tuple[FeatureGANConfig, bool]:
    """A trial's params (``suggest``'s names) as the configuration and the filter choice."""
    return replace(base, **{k: v for k, v in params.items() if k != "filter"}), bool(params.get("filter", False))


def minority_classes(data: FeatureData) -> list[str]:
    counts = np.bincount(data.y, minlength=len(data.classes))
    return [c for c, n in zip(data.classes, counts) if n < np.median(counts)] or list(data.classes)


def _splits(data: FeatureData, options: FeatureTuneOptions):
    from sklearn.model_selection import train_test_split

    for k in range(options.val_splits):
        yield train_test_split(data.x, data.y, test_size=options.val_fraction, stratify=data.y,
                               random_state=options.seed + k)


def validation_objective(data: FeatureData, config: FeatureGANConfig, use_filter: bool, options: FeatureTuneOptions,
                         report=None) -> tuple[float, list[dict]]:
    """Mean over the validation splits and both classifiers of (macro-F1 + minority recall) / 2;
    ``report(step, running mean)`` after each split may raise to prune."""
    from feature_gan.evaluation import CLASSIFIERS, utility

    minority, values, details = minority_classes(data), [], []
    method = "gan_filtered" if use_filter else "gan"
    for k, (x_fit, x_val, y_fit, y_val) in enumerate(_splits(data, options)):
        scores = utility(x_fit, y_fit, x_val, y_val, data.classes, minority, seed=options.seed + k, methods=(method,),
                         gan_config=config)
        split = [(scores[f"{method}/{c}"]["macro_f1"] + scores[f"{method}/{c}"]["minority_recall"]) / 2
                 for c in CLASSIFIERS]
        values.append(float(np.mean(split)))
        details.append({f"{c}.{m}": scores[f"{method}/{c}"][m] for c in CLASSIFIERS
                        for m in ("macro_f1", "minority_recall")})
        if report is not None:
            report(k, float(np.mean(values)))
    return float(np.mean(values)), details


def _trial_objective(data: FeatureData, base: FeatureGANConfig, options: FeatureTuneOptions, epochs_cap: int):
    import mlflow
    import optuna

    from training.tracking import tracked_run

    def objective(trial) -> float:
        config, use_filter = suggest(trial, base, epochs_cap)
        with tracked_run(experiment=None, nested=True, run_name=f"trial-{trial.number}",
                         finish_on=(optuna.TrialPruned,)) as run:
            mlflow.log_params({**trial.params, "trial": trial.number})
            mlflow.set_tags({"optuna_study": options.study_name, "optuna_trial": str(trial.number)})

            def report(step: int, value: float) -> None:
                mlflow.log_metric("objective_running", value, step=step)
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"running objective {value:.4f} after split {step}")

            value, details = validation_objective(data, config, use_filter, options, report)
            for k, d in enumerate(details):
                mlflow.log_metrics({f"split.{m}": v for m, v in d.items()}, step=k)
            mlflow.log_metric("objective", value)
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            return value
    return objective


def _champion_value(name: str, data: FeatureData, options: FeatureTuneOptions) -> float | None:
    """The current champion's configuration scored by the same objective on the same splits."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from feature_gan.pipeline import load_feature_model
    from training.errors import ModelError

    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
        champion = load_feature_model(f"models:/{name}@champion")
    except (MlflowException, ModelError):
        return None
    use_filter = version.tags.get("filter", "False") == "True"
    return validation_objective(data, champion.config, use_filter, options)[0]


def tune_features(data: FeatureData, options: FeatureTuneOptions, base: FeatureGANConfig | None = None, *,
                  table: FeatureInput | None = None, epochs_cap: int = 0) -> TuneResult:
    """Run the study (see the module docstring); returns the best trial and what was registered."""
    import mlflow
    import optuna

    from training.tracking import lineage_tags, tracked_run

    base = base or FeatureGANConfig()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=options.study_name, storage=options.storage or None, direction="maximize",
                                load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=options.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0))
    description = (f"Feature-GAN tuning on {data.source}: {options.n_trials} trials, objective = mean of macro-F1 and "
                   f"minority recall of LR and RF on the augmented set, {options.val_splits} validation split(s) of "
                   f"{options.val_fraction:.0%}; minority classes {', '.join(minority_classes(data))}.")
    with tracked_run(experiment=options.experiment, run_name=f"tune-features-{options.study_name}",
                     tags=lineage_tags(), description=description) as parent:
        mlflow.log_params({**{f"tune.{k}": v for k, v in options.__dict__.items()}, "data": data.source,
                           "samples": len(data.y), "features": data.x.shape[1]})
        from feature_gan.pipeline import log_feature_table

        log_feature_table(data, "tuning")
        from training import progress

        bar = progress.bar(options.n_trials, "trials", unit="trial")

        def tick(study, trial) -> None:
            bar.update(1)
            best = [t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            bar.set_postfix_str(f"best objective {max(best):.4f}" if best else trial.state.name.lower())

        try:
            study.optimize(_trial_objective(data, base, options, epochs_cap), n_trials=options.n_trials,
                           timeout=options.timeout or None, catch=(), callbacks=[tick])
        finally:
            bar.close()
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        result = TuneResult(options.study_name, len(done), None, {}, parent.info.run_id, pruned=pruned)
        mlflow.log_metrics({"trials_complete": len(done), "trials_pruned": pruned})
        if not done:
            return result
        best = study.best_trial
        result.best_value, result.best_params = best.value, dict(best.params)
        mlflow.log_params({f"best_{k}": v for k, v in best.params.items()})
        mlflow.log_metric("best_objective", best.value)
        if options.register_as:
            _register(result, data, base, options, table, best)
    return result


def _register(result: TuneResult, data: FeatureData, base: FeatureGANConfig, options: FeatureTuneOptions,
              table: FeatureInput | None, best) -> None:
    import mlflow

    from feature_gan.pipeline import train_features

    config, _ = config_of(best.params, base)
    result.champion_value = _champion_value(options.register_as, data, options)
    alias = "champion" if result.champion_value is None or best.value > result.champion_value else "challenger"
    run_id, uri, synth, _ = train_features(data, config, FeatureRunOptions(experiment=options.experiment,
                                                                           register_as=""), table=table, nested=True)
    mlflow.MlflowClient().set_tag(run_id, "filter", str(best.params.get("filter", False)))
    from training.tracking import register_model

    incumbent = "none" if result.champion_value is None else f"{result.champion_value:.4f}"
    version, alias = register_model(
        uri, options.register_as, alias=alias,
        tags={"val_objective": f"{best.value:.6f}", "study": options.study_name, "trial": str(best.number),
              "filter": str(best.params.get("filter", False)), "source_run_id": run_id},
        description=f"Best of study {options.study_name} (trial {best.number}): validation objective {best.value:.4f} "
                    f"against the champion's {incumbent} on the same splits; filter {best.params.get('filter')}.")
    result.registered_version, result.alias = version.version, alias
