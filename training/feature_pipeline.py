"""The tracked feature-GAN job: load -> fit (resumable) -> MLflow run -> register ``mfcc-wgan-gp``."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from training.config import FeatureGANConfig
from training.feature_gan import FeatureSynthesizer
from training.features import FeatureData
from training.tracking import flatten_params, lineage_tags, log_dataset, log_new_params, register_model, tracked_run
from training.utils import seed_everything, sha256_file

__all__ = ["FeatureRunOptions", "FeatureGANModel", "train_features", "load_feature_model", "log_feature_table"]

log = logging.getLogger(__name__)
_ENTRY = Path(__file__).with_name("_pyfunc_feature_entry.py")


@dataclass(frozen=True)
class FeatureRunOptions:
    experiment: str = "mfcc-wgan-gp"
    register_as: str = ""
    checkpoint_every: int = 10
    save_dir: str = "checkpoints"
    resume: str = ""


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
    files.require_kind("mfcc-wgan-gp")
    return FeatureSynthesizer.load(files.pyfunc_artifact("feature_gan"))


def _log_model(synth: FeatureSynthesizer, saved: Path):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    sig = ModelSignature(inputs=Schema([ColSpec("string", "class"), ColSpec("long", "n"),
                                        ColSpec("long", "seed", required=False)]),
                         outputs=Schema([*(ColSpec("double", f) for f in synth.feature_names), ColSpec("string", "label")]))
    from training.mlflow_model import pip_requirements

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*input example.*")
        return mlflow.pyfunc.log_model(name="model", python_model=str(_ENTRY), artifacts={"feature_gan": str(saved)},
                                       code_paths=[str(Path(__file__).parent)], signature=sig,
                                       pip_requirements=pip_requirements(), metadata={"ganflow_kind": "mfcc-wgan-gp"})


def log_feature_table(data: FeatureData, context: str) -> str:
    """The feature table as an MLflow dataset input of the active run; returns its sha256."""
    sha = sha256_file(data.source) if Path(data.source).is_file() else \
        hashlib.sha256(np.ascontiguousarray(data.x).tobytes()).hexdigest()
    log_dataset(source=str(Path(data.source).resolve()) if data.source else "in-memory", sha256=sha,
                name=Path(data.source).name or "features", context=context,
                profile={"samples": len(data.y), "class_counts": data.counts()},
                columns={**{f: "double" for f in data.feature_names}, "label": "string"})
    return sha


def train_features(data: FeatureData, config: FeatureGANConfig, options: FeatureRunOptions = FeatureRunOptions()):
    """Train the conditional WGAN-GP in one MLflow run; returns (run_id, model_uri, synthesizer, version)."""
    seed_everything(config.seed)
    from training.run_info import lr_label

    name = f"wgan-gp-lr{lr_label(config.lr)}-s{config.seed}"
    description = (f"Conditional WGAN-GP on {Path(data.source).name}: {len(data.y):,} samples of {data.x.shape[1]} "
                   f"features in {len(data.classes)} classes ({', '.join(data.classes)}); {config.epochs} epochs, "
                   f"n_critic {config.n_critic}, lambda {config.lambda_gp}, seed {config.seed}.")
    with tracked_run(experiment=options.experiment, run_name=name, tags=lineage_tags(), description=description,
                     system_metrics=True) as run:
        log_new_params({**flatten_params("", config.to_dict()), "adam_betas": f"({config.beta1}, {config.beta2})",
                        "data_source": data.source, "samples": str(len(data.y)), "feature_dim": str(data.x.shape[1]),
                        "classes": ",".join(data.classes), "resume": options.resume})
        sha = log_feature_table(data, "training")
        mlflow.set_tags({"data_sha256": sha, "ganflow_kind": "mfcc-wgan-gp", "class_counts": json.dumps(data.counts())})
        local = Path(options.save_dir) / f"feature_gan_{run.info.run_id}"

        from training import progress

        bar = progress.bar(config.epochs, "epochs", unit="epoch")

        def on_epoch(stats) -> None:
            mlflow.log_metrics({"critic_loss": stats.critic_loss, "generator_loss": stats.generator_loss,
                                "wasserstein": stats.wasserstein, "gradient_penalty": stats.gradient_penalty},
                               step=stats.epoch)
            bar.update(1)
            bar.set_postfix_str(f"critic {stats.critic_loss:.4f}, generator {stats.generator_loss:.4f}")

        try:
            synth = FeatureSynthesizer(config).fit(
                data, on_epoch_end=on_epoch, checkpoint_dir=local / "checkpoints",
                checkpoint_every=options.checkpoint_every,
                on_checkpoint=lambda p: mlflow.log_artifact(str(p), "checkpoints"), resume_from=options.resume or None)
        finally:
            bar.close()
        mlflow.log_dict({"history": synth.history, "classes": synth.classes}, "training_history.json")
        saved = synth.save(local / "final_model")
        mlflow.log_artifacts(str(saved), "final_model")
        info = _log_model(synth, saved)
        version = None
        result = f"final Wasserstein estimate {synth.history[-1]['wasserstein']:.4g}" if synth.history else "no epochs"
        mlflow.set_tag("mlflow.note.content", f"{description} Result: {result}.")
        if options.register_as:
            tags = {"epochs": str(len(synth.history)), "source_run_id": run.info.run_id,
                    "final_wasserstein": f"{synth.history[-1]['wasserstein']:.6f}" if synth.history else ""}
            version, _ = register_model(
                info.model_uri, options.register_as, tags=tags, alias="auto",
                description=f"From run {name} ({run.info.run_id}). {description} {result}.",
                model_description="Conditional WGAN-GP generators of labelled feature vectors (e.g. 13 MFCC means "
                                  "per class) for rebalancing datasets; ganflow augment uses them.")
    return run.info.run_id, info.model_uri, synth, (version.version if version else None)
