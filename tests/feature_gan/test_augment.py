from __future__ import annotations

import csv
import json

import mlflow
import numpy as np
import pytest
from click.testing import CliRunner

from feature_gan.augment import balance_counts
from ganflow.cli import main


def test_balance_counts_exact():
    counts = {"a": 30, "b": 12, "c": 7}
    assert balance_counts(counts, "equal") == {"a": 30, "b": 30, "c": 30}
    assert balance_counts(counts, "upsample") == {"a": 45, "b": 18, "c": 11}
    assert balance_counts(counts, "custom", 20) == {"a": 30, "b": 20, "c": 20}  # never drops real data
    from training.errors import ConfigError

    with pytest.raises(ConfigError, match="--target-samples"):
        balance_counts(counts, "custom", None)


@pytest.fixture
def feature_json(tmp_path):
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(2 * i, 1, (n, 13)) for i, n in enumerate((24, 10, 5))])
    labels = ["blues"] * 24 + ["jazz"] * 10 + ["rock"] * 5
    path = tmp_path / "mfcc.json"
    path.write_text(json.dumps({"features": x.tolist(), "labels": labels, "dataset": "toy"}))
    return path


def test_train_register_augment_generate(tracking_uri, tmp_path, feature_json):
    run = CliRunner().invoke(main, ["train-features", "--data", str(feature_json), "--epochs", "2", "--hidden_dim", "16",
                                    "--batch_size", "16", "--checkpoint_every", "1", "--save_dir", str(tmp_path / "ck")],
                             catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "registered models:/mfcc-wgan-gp/1" in run.output
    r = mlflow.search_runs(experiment_names=["mfcc-wgan-gp"], output_format="list")[0]
    assert r.data.params["adam_betas"] == "(0.5, 0.9)" and r.data.params["lambda_gp"] == "10"
    client = mlflow.MlflowClient()
    for metric in ("critic_loss", "generator_loss", "wasserstein", "gradient_penalty"):
        assert [m.step for m in client.get_metric_history(r.info.run_id, metric)] == [1, 2]
    arts = {a.path for a in client.list_artifacts(r.info.run_id, "checkpoints")}
    assert arts == {"checkpoints/checkpoint_epoch_1.pt", "checkpoints/checkpoint_epoch_2.pt"}
    assert {"training_history.json", "final_model"} <= {a.path for a in client.list_artifacts(r.info.run_id)}

    out = tmp_path / "aug.json"
    res = CliRunner().invoke(main, ["augment", "--model", "models:/mfcc-wgan-gp/1", "--input", str(feature_json),
                                    "--output", str(out), "--method", "equal", "--seed", "5"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["dataset"] == "toy" and doc["augmented"] is True
    assert doc["class_counts_after"] == {"blues": 24, "jazz": 24, "rock": 24}
    assert doc["original_samples"] == 39 and doc["synthetic_samples"] == 33
    assert doc["augmentation_ratio"] == pytest.approx(33 / 39)
    assert len(doc["features"]) == len(doc["labels"]) == len(doc["is_synthetic"]) == 72 and sum(doc["is_synthetic"]) == 33
    assert doc["source_model"]["model_version"] == "1"
    assert doc["labels"][:39] == json.loads(feature_json.read_text())["labels"]  # real rows kept, in order

    res = CliRunner().invoke(main, ["generate-features", "--model", "models:/mfcc-wgan-gp/1", "--class", "rock",
                                    "--n", "4"], catch_exceptions=False)
    lines = res.output.strip().splitlines()
    assert len(lines) == 5 and lines[0].endswith(",label") and all(line.endswith(",rock") for line in lines[1:])



def test_train_features_resume_by_run_id_matches_an_unbroken_run(tracking_uri, tmp_path, feature_json, monkeypatch):
    from feature_gan.synthesizer import GanTrainer

    args = ["train-features", "--data", str(feature_json), "--epochs", "3", "--hidden_dim", "16", "--batch_size", "16",
            "--checkpoint_every", "1", "--register_as", ""]
    whole = CliRunner().invoke(main, [*args, "--save_dir", str(tmp_path / "a"), "--experiment", "whole"],
                               catch_exceptions=False)
    assert whole.exit_code == 0, whole.output

    real_epoch = GanTrainer.train_epoch

    def dies_in_epoch_3(self, x, y):
        if self.epoch == 2:
            raise KeyboardInterrupt  # a kill after epoch 2's checkpoint
        return real_epoch(self, x, y)

    monkeypatch.setattr(GanTrainer, "train_epoch", dies_in_epoch_3)
    CliRunner().invoke(main, [*args, "--save_dir", str(tmp_path / "b"), "--experiment", "broken"])
    broken = mlflow.search_runs(experiment_names=["broken"], output_format="list")[0]
    assert broken.info.status == "KILLED"
    monkeypatch.setattr(GanTrainer, "train_epoch", real_epoch)

    # the run's own data and config: no --data, and --epochs here would not change them
    res = CliRunner().invoke(main, ["train-features", "--resume", broken.info.run_id, "--register_as", "",
                                    "--save_dir", str(tmp_path / "c")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert f"run {broken.info.run_id}: 3 epochs" in res.output
    after = mlflow.MlflowClient().get_run(broken.info.run_id)
    assert after.info.status == "FINISHED" and after.data.tags["resumed_from"] == "checkpoint_epoch_2.pt"
    first = mlflow.search_runs(experiment_names=["whole"], output_format="list")[0]
    client = mlflow.MlflowClient()
    expect = [m.value for m in client.get_metric_history(first.info.run_id, "wasserstein")]
    got = {m.step: m.value for m in client.get_metric_history(broken.info.run_id, "wasserstein")}
    assert [got[e] for e in (1, 2, 3)] == expect  # bit for bit: weights, optimizers and both random streams resumed
    again = CliRunner().invoke(main, ["train-features", "--resume", broken.info.run_id])
    assert again.exit_code == 2 and "the run finished; nothing to resume" in again.output


def test_augment_csv_custom_keeps_schema(tmp_path):
    from feature_gan.augment import augment_file
    from feature_gan.config import FeatureGANConfig
    from feature_gan.data import load_features
    from feature_gan.synthesizer import FeatureSynthesizer

    rows = ["filename,tempo,mfcc1_mean,mfcc2_mean,label"] + [f"f{i}.wav,120,{i},{-i},{'ab'[i % 3 == 0]}" for i in range(12)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    data = load_features(path, feature_columns="mfcc{1..2}_mean")
    model = FeatureSynthesizer(FeatureGANConfig(epochs=1, hidden_dim=8, batch_size=4)).fit(data)
    meta = augment_file(model, path, tmp_path / "o.csv", method="custom", target_samples=6,
                        feature_columns="mfcc{1..2}_mean")
    assert meta["class_counts_before"] == {"a": 8, "b": 4} and meta["class_counts_after"] == {"a": 8, "b": 6}
    out = list(csv.reader(open(tmp_path / "o.csv")))
    assert out[0] == ["filename", "tempo", "mfcc1_mean", "mfcc2_mean", "label", "synthetic"]
    assert len(out) == 1 + 14 and [r[-1] for r in out[1:]].count("1") == 2
    assert json.loads((tmp_path / "o.csv.meta.json").read_text())["synthetic_samples"] == 2


def test_augment_bad_inputs(tmp_path, feature_json):
    res = CliRunner().invoke(main, ["augment", "--model", str(tmp_path), "--input", str(feature_json), "--output",
                                    str(tmp_path / "o.json")])
    assert res.exit_code == 2 and "not a saved feature-GAN model" in res.output
    res = CliRunner().invoke(main, ["train-features", "--data", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "none.json: no such file" in res.output
    res = CliRunner().invoke(main, ["train-features", "--epochs", "2"])
    assert res.exit_code == 2 and "needs --data" in res.output
    res = CliRunner().invoke(main, ["train-features", "--data", str(feature_json), "--epochs", "0"])
    assert res.exit_code == 2 and "epochs must be a positive integer" in res.output


def test_evaluate_augmentation_reports_every_method(tracking_uri, tmp_path):
    from feature_gan.config import FeatureGANConfig
    from feature_gan.data import FeatureData
    from feature_gan.evaluation import CLASSIFIERS, METHODS, evaluate_augmentation

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.5 * i, 1, (40, 4)) for i in range(4)])
    data = FeatureData(x, np.repeat(np.arange(4), 40), list("abcd"), [f"f{i}" for i in range(4)], "toy")
    report = evaluate_augmentation(data, seeds=2, keep_fraction=0.25, gan_config=FeatureGANConfig(epochs=3, hidden_dim=16))
    assert set(report["summary"]) == {f"{m}/{c}" for m in METHODS for c in CLASSIFIERS}
    for recipe in report["recipes"]:
        assert len(recipe["minority_classes"]) == 2
        assert all(recipe["train_counts"][c] == 7 for c in recipe["minority_classes"])  # 25% of 28
    for values in report["summary"].values():
        assert all(0 <= v[0] <= 1 for v in values.values())
    runs = mlflow.search_runs(experiment_names=["augmentation-eval"], output_format="list")
    assert len(runs) == 3 and sum("mlflow.parentRunId" in r.data.tags for r in runs) == 2
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(parent.info.run_id)}
    assert {"augmentation_eval.png", "augmentation_eval.txt", "augmentation_eval.json"} <= arts
    # one test split for every seed: the seeds differ only in the imbalance and the models
    fixed = evaluate_augmentation(data, seeds=2, keep_fraction=0.25, methods=("imbalanced", "smote"), split=0,
                                  log_run=False)
    assert set(fixed["summary"]) == {f"{m}/{c}" for m in ("imbalanced", "smote") for c in CLASSIFIERS}


def test_evaluate_augmentation_command(tmp_path):
    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal(2 * i, 1, (30, 5)) for i in range(4)])
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"features": x.tolist(), "labels": [c for c in "abcd" for _ in range(30)]}))
    res = CliRunner().invoke(main, ["evaluate-augmentation", "--data", str(path), "--seeds", "1", "--gan-epochs", "1",
                                    "--no-log-run"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0].split()[0] == "method/classifier" and len(lines) == 1 + 14  # 7 methods × 2 classifiers
    assert CliRunner().invoke(main, ["evaluate-augmentation", "--data", str(path), "--seeds", "0"]).exit_code == 2


def test_tune_features_registers_the_best_and_compares_with_the_champion(tracking_uri, tmp_path):
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(2 * i, 1, (n, 4)) for i, n in enumerate((40, 40, 12, 12))])
    path = tmp_path / "imbalanced.json"
    path.write_text(json.dumps({"features": x.tolist(), "labels": [c for c, n in zip("abcd", (40, 40, 12, 12))
                                                                   for _ in range(n)]}))
    args = ["tune-features", "--data", str(path), "--n_trials", "2", "--val_splits", "1", "--epochs_cap", "2"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "2 finished trials" in res.output and "registered models:/mfcc-wgan-gp/1 @champion" in res.output
    runs = mlflow.search_runs(experiment_names=["feature-gan-tune"], output_format="list")
    parent = next(r for r in runs if r.data.tags.get("mlflow.runName") == "tune-features-feature-gan")
    trials = [r for r in runs if r.data.tags.get("mlflow.runName", "").startswith("trial-")]
    assert len(trials) == 2 and all(0 <= r.data.metrics["objective"] <= 1 for r in trials)
    assert parent.data.metrics["best_objective"] == max(r.data.metrics["objective"] for r in trials)
    assert "best_lr" in parent.data.params and parent.data.params["samples"] == "104"
    version = mlflow.MlflowClient().get_model_version("mfcc-wgan-gp", "1")
    assert float(version.tags["val_objective"]) == pytest.approx(parent.data.metrics["best_objective"], abs=1e-6)
    # a second study: its best is compared with the champion's configuration on the same splits
    res = CliRunner().invoke(main, [*args, "--study_name", "again", "--seed", "1"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "registered models:/mfcc-wgan-gp/2 @" in res.output
    alias = res.output.split("registered models:/mfcc-wgan-gp/2 @")[1].split()[0]
    assert alias in ("champion", "challenger")


def test_quality_measures_and_filter():
    from feature_gan.data import FeatureData
    from feature_gan.quality import SampleFilter, class_mmd2, prdc

    rng = np.random.default_rng(0)
    real, same, far = rng.normal(0, 1, (300, 4)), rng.normal(0, 1, (300, 4)), rng.normal(6, 1, (300, 4))
    good, bad = prdc(real, same), prdc(real, far)
    assert good["precision"] > 0.8 and good["recall"] > 0.8 and good["coverage"] > 0.8
    assert bad["precision"] < 0.05 and bad["coverage"] < 0.05
    assert class_mmd2(real, same) < 0.02 < class_mmd2(real, far)
    x = np.vstack([rng.normal(0, 1, (100, 3)), rng.normal(5, 1, (100, 3))])
    data = FeatureData(x, np.repeat([0, 1], 100), ["a", "b"], ["f0", "f1", "f2"], "toy")
    f = SampleFilter(data)
    assert f.accept(x[:100], 0).mean() > 0.85  # real vectors of a pass as a
    assert not f.accept(x[100:], 0).any()  # b's vectors are not a's
    assert not f.accept(np.full((5, 3), 30.0), 1).any()  # outside b's support
