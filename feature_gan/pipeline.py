"""The tracked feature-GAN job: load -> fit -> MLflow run -> register ``mfcc-wgan-gp``.

Like the trace GAN's, a run records ``run_config.json`` (where its table came from, how it was
read, the model config) when it starts and a checkpoint every ``checkpoint_every`` epochs, so
``train-features --resume RUN_ID`` reopens a killed or failed run and continues from its newest
checkpoint (training.resume).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from feature_gan.config import FeatureGANConfig, FeatureInput, FeatureRunOptions
from feature_gan.data import FeatureData
from feature_gan.synthesizer import FeatureSynthesizer
from training.errors import ConfigError
from training.resume import RUN_CONFIG, check_same_data, resume_point, unfinished_run_config
from training.tracking import flatten_params, lineage_tags, log_dataset, log_new_params, register_model, tracked_run
from training.utils import seed_everything, sha256_file

__all__ = ["FeatureRunOptions", "FeatureGANModel", "train_features", "resume_spec", "load_feature_model",
           "log_feature_table"]

_ENTRY = Path(__file__).with_name("_pyfunc_entry.py")
KIND = "mfcc-wgan-gp"


class FeatureGANModel(mlflow.pyfunc.PythonModel):
    """Pyfunc: input rows ``class`` (name or index), ``n``, optional ``seed`` -> features + ``label``."""

    def load_context(self, context) -> None:
        self.synthesizer = FeatureSynthesizer.load(context.artifacts["feature_gan"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        s, frames = self.synthesizer, []
        for rec in pd.DataFrame(model_input).to_dict("records"):
            seed = 0 if rec.get("seed") is None or pd.isna(rec.get("seed")) else int(rec["seed"])
            x = s.sample(rec["class"], int(rec["n"]), seed=seed)
            frame = pd.DataFrame(x, columns=s.feature_names)
            frame["label"] = s.classes[s.class_index(rec["class"])]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*s.feature_names, "label"])


def load_feature_model(uri: str) -> FeatureSynthesizer:
    """A saved folder or a logged ``mfcc-wgan-gp`` model URI -> its ``FeatureSynthesizer``, read as
    data (JSON and weights-only tensors): no code from the artifact store is executed."""
    from training.model_files import fetch_model

    if Path(uri).is_dir() and not (Path(uri) / "MLmodel").is_file():
        return FeatureSynthesizer.load(uri)
    files = fetch_model(uri)
    files.require_kind(KIND)
    return FeatureSynthesizer.load(files.pyfunc_artifact("feature_gan"))


def _log_model(synth: FeatureSynthesizer, saved: Path):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    import training

    sig = ModelSignature(inputs=Schema([ColSpec("string", "class"), ColSpec("long", "n"),
                                        ColSpec("long", "seed", required=False)]),
                         outputs=Schema([*(ColSpec("double", f) for f in synth.feature_names), ColSpec("string", "label")]))
    from training.mlflow_model import pip_requirements

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example.*")
        return mlflow.pyfunc.log_model(name="model", python_model=str(_ENTRY), artifacts={"feature_gan": str(saved)},
                                       code_paths=[str(Path(__file__).parent), str(Path(training.__file__).parent)],
                                       signature=sig, pip_requirements=pip_requirements(), metadata={"ganflow_kind": KIND})


def _table_sha(data: FeatureData) -> str:
    return sha256_file(data.source) if Path(data.source).is_file() else \
        hashlib.sha256(np.ascontiguousarray(data.x).tobytes()).hexdigest()


def log_feature_table(data: FeatureData, context: str, sha: str = "") -> str:
    """The feature table as an MLflow dataset input of the active run; returns its sha256."""
    sha = sha or _table_sha(data)
    log_dataset(source=str(Path(data.source).resolve()) if data.source else "in-memory", sha256=sha,
                name=Path(data.source).name or "features", context=context,
                profile={"samples": len(data.y), "class_counts": data.counts()},
                columns={**{f: "double" for f in data.feature_names}, "label": "string"})
    return sha


def resume_spec(run_id: str) -> tuple[str, FeatureInput, FeatureGANConfig]:
    """The table, reading options and model config of run ``run_id``, an unfinished feature-GAN run."""
    spec = unfinished_run_config(run_id, KIND)
    try:
        return spec["data"]["path"], FeatureInput(**spec["data"]["input"]), FeatureGANConfig.from_dict(spec["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"--resume {run_id}: cannot read its {RUN_CONFIG} ({type(exc).__name__}: {exc})") from None


def train_features(data: FeatureData, config: FeatureGANConfig, options: FeatureRunOptions | None = None, *,
                   table: FeatureInput | None = None, resume_run_id: str | None = None, nested: bool = False):
    """Train the conditional WGAN-GP in one MLflow run; returns (run_id, model_uri, synthesizer, version).

    ``table`` says how ``data`` was read (recorded for a resume); ``resume_run_id`` reopens that
    run and continues from its newest checkpoint (``data`` and ``config`` must be its own:
    ``resume_spec``). ``nested``: a child of the active run (tuning's final model).
    """
    options, table = options or FeatureRunOptions(), table or FeatureInput()
    seed_everything(config.seed)
    from training.run_info import lr_label

    name = f"wgan-gp-lr{lr_label(config.lr)}-s{config.seed}"
    description = (f"Conditional WGAN-GP on {Path(data.source).name}: {len(data.y):,} samples of {data.x.shape[1]} "
                   f"features in {len(data.classes)} classes ({', '.join(data.classes)}); {config.epochs} epochs, "
                   f"n_critic {config.n_critic}, lambda {config.lambda_gp:.4g}, lr {config.lr:.3g}, "
                   f"{config.num_layers} × {config.hidden_dim} units, batch {config.batch_size}, seed {config.seed}.")
    sha = _table_sha(data)
    if resume_run_id:
        check_same_data(resume_run_id, {"data_sha256": sha, "data_source": data.source})
    with tracked_run(experiment=options.experiment, run_name=name, tags=lineage_tags(), description=description,
                     run_id=resume_run_id, nested=nested, system_metrics=not nested) as run:
        local = Path(options.save_dir) / f"feature_gan_{run.info.run_id}"
        checkpoint = resume_point(resume_run_id, local / "checkpoints") if resume_run_id else None
        if not resume_run_id:
            log_new_params({**flatten_params("", config.to_dict()), "adam_betas": f"({config.beta1}, {config.beta2})",
                            "data_source": data.source, "samples": str(len(data.y)), "feature_dim": str(data.x.shape[1]),
                            "classes": ",".join(data.classes), **table.to_dict()})
            log_feature_table(data, "training", sha)
            mlflow.set_tags({"data_sha256": sha, "ganflow_kind": KIND, "class_counts": json.dumps(data.counts())})
            mlflow.log_dict({"data": {"path": str(Path(data.source).resolve()), "input": table.to_dict()},
                             "config": config.to_dict()}, RUN_CONFIG)
        synth = _fit(data, config, options, local, checkpoint)
        _log_quality(synth, data)
        return _log_result(synth, local, name, description, run.info.run_id, options)


def _fit(data: FeatureData, config: FeatureGANConfig, options: FeatureRunOptions, local: Path,
         checkpoint: Path | None) -> FeatureSynthesizer:
    from training import progress

    bar = progress.bar(config.epochs, "epochs", unit="epoch", initial=_epoch_of(checkpoint))

    def on_epoch(stats) -> None:
        mlflow.log_metrics({"critic_loss": stats.critic_loss, "generator_loss": stats.generator_loss,
                            "wasserstein": stats.wasserstein, "gradient_penalty": stats.gradient_penalty},
                           step=stats.epoch)
        bar.update(1)
        bar.set_postfix_str(f"critic {stats.critic_loss:.4f}, generator {stats.generator_loss:.4f}")

    try:
        return FeatureSynthesizer(config).fit(
            data, on_epoch_end=on_epoch, checkpoint_dir=local / "checkpoints", checkpoint_every=options.checkpoint_every,
            on_checkpoint=lambda p: mlflow.log_artifact(str(p), "checkpoints"), resume_from=checkpoint)
    finally:
        bar.close()


def _log_quality(synth: FeatureSynthesizer, data: FeatureData) -> None:
    """What the generator makes, per class, against the training data (feature_gan.quality)."""
    from feature_gan.quality import SampleFilter, quality_report

    report = quality_report(synth, data, seed=synth.config.seed, sample_filter=SampleFilter(data, seed=synth.config.seed))
    mlflow.log_metrics({f"quality_{k}": v for k, v in report.items() if k != "per_class" and np.isfinite(v)})
    safe = {c: re.sub(r"[^\w.-]", "_", c) for c in report["per_class"]}
    mlflow.log_metrics({f"quality.{safe[c]}.{m}": v for c, row in report["per_class"].items()
                        for m, v in row.items() if np.isfinite(v)})
    mlflow.log_dict(report, "quality.json")


def _epoch_of(checkpoint: Path | None) -> int:
    from training.checkpoints import checkpoint_epoch

    return (checkpoint_epoch(checkpoint.name) or 0) if checkpoint else 0


def _log_result(synth: FeatureSynthesizer, local: Path, name: str, description: str, run_id: str,
                options: FeatureRunOptions):
    mlflow.log_dict({"history": synth.history, "classes": synth.classes}, "training_history.json")
    saved = synth.save(local / "final_model")
    mlflow.log_artifacts(str(saved), "final_model")
    info = _log_model(synth, saved)
    version = None
    result = f"final Wasserstein estimate {synth.history[-1]['wasserstein']:.4g}" if synth.history else "no epochs"
    mlflow.set_tag("mlflow.note.content", f"{description} Result: {result}.")
    if options.register_as:
        tags = {"epochs": str(len(synth.history)), "source_run_id": run_id,
                "final_wasserstein": f"{synth.history[-1]['wasserstein']:.6f}" if synth.history else ""}
        version, _ = register_model(
            info.model_uri, options.register_as, tags=tags, alias="auto",
            description=f"From run {name} ({run_id}). {description} {result}.",
            model_description="Conditional WGAN-GP generators of labelled feature vectors (e.g. 13 MFCC means "
                              "per class) for rebalancing datasets; ganflow augment uses them.")
    return run_id, info.model_uri, synth, (version.version if version else None)
