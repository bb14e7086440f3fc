"""Safe loading: weights only, models read as data (no code from the artifact store runs),
paths from model files kept inside their folder, and a pickled object never executed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import mlflow
import pytest
import torch
import yaml

from serving.registry import load_any
from training.config import DataConfig, RunOptions
from training.errors import ModelError
from training.pipeline import train
from training.synthesizer import Synthesizer
from training.trainer import GANTrainer


class _Payload:
    """Unpickling this would create ``path`` (what a malicious checkpoint does)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture(scope="module")
def logged_model(tmp_path_factory, tiny_config_module):
    """A trace GAN logged to a throwaway store, downloaded as a local MLflow model folder."""
    root = tmp_path_factory.mktemp("logged")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    cwd = os.getcwd()
    os.chdir(root)  # the SQLite store's default artifact root is ./mlruns
    try:
        result = train(DataConfig(), tiny_config_module, RunOptions(save_dir=str(root / "ck"), plots=False, eval_every=0))
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=result.model_uri, dst_path=str(root / "model")))
    finally:
        mlflow.set_tracking_uri(None)
        os.chdir(cwd)
    return local


@pytest.fixture(scope="module")
def tiny_config_module():
    from training.config import TraceGANConfig

    return TraceGANConfig(num_epochs=1, batch_size=64, hidden_dim=8, latent_dim=4, seq_len=8, seed=7)


def test_a_pickled_object_in_a_checkpoint_is_refused_not_run(tmp_path, tiny_config_module):
    sentinel = tmp_path / "pwned"
    evil = tmp_path / "checkpoint_epoch_1.pt"
    torch.save({"epoch": 1, "payload": _Payload(str(sentinel))}, evil)
    trainer = GANTrainer(tiny_config_module, 4)
    with pytest.raises(ModelError, match=r"checkpoint_epoch_1.pt: not a loadable weights file \(UnpicklingError"):
        trainer.load_checkpoint(evil)
    assert not sentinel.exists()
    torch.load(evil, weights_only=False)  # proof the file is armed: a full unpickle runs it
    assert sentinel.exists()


def test_a_pickled_generator_file_is_refused(tmp_path, logged_model):
    saved = logged_model / "artifacts" / "model"
    copy = shutil.copytree(saved, tmp_path / "model")
    sentinel = tmp_path / "pwned"
    torch.save(_Payload(str(sentinel)), copy / "generator.pt")
    with pytest.raises(ModelError, match="generator.pt: not a loadable weights file"):
        Synthesizer.load(copy)
    assert not sentinel.exists()


def test_loading_a_logged_model_runs_none_of_its_code(tmp_path, logged_model):
    model = shutil.copytree(logged_model, tmp_path / "model")
    sentinel = tmp_path / "code-ran"
    for py in model.rglob("*.py"):  # tamper with every Python file the artifact holds
        py.write_text(py.read_text() + f"\nimport pathlib; pathlib.Path({str(sentinel)!r}).touch()\n")
    loaded = load_any(str(model))
    assert isinstance(loaded.synthesizer, Synthesizer) and loaded.synthesizer.sample(16).shape == (16, 5)
    assert not sentinel.exists()
    mlflow.pyfunc.load_model(str(model))  # MLflow's own loader executes the model's code file
    assert sentinel.exists()


@pytest.mark.parametrize("escape", ["../outside", "/etc", "artifacts/../../outside"])
def test_artifact_paths_cannot_escape_the_model_folder(tmp_path, logged_model, escape):
    model = shutil.copytree(logged_model, tmp_path / "m" / "model")
    shutil.copytree(model / "artifacts" / "model", tmp_path / "m" / "outside")  # a real model out there
    spec = yaml.safe_load((model / "MLmodel").read_text())
    spec["flavors"]["python_function"]["artifacts"]["synthesizer"]["path"] = escape
    (model / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelError, match="escapes .*refusing to read outside the model's folder"):
        load_any(str(model))


def test_a_model_of_another_kind_is_named(tmp_path, logged_model):
    model = shutil.copytree(logged_model, tmp_path / "model")
    spec = yaml.safe_load((model / "MLmodel").read_text())
    spec["metadata"]["ganflow_kind"] = "mfcc-wgan-gp"
    (model / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelError, match="is a mfcc-wgan-gp model; expected trace-gan or trace-gan-onnx"):
        load_any(str(model))
