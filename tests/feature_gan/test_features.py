from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from feature_gan.config import FeatureGANConfig
from feature_gan.data import expand_columns, load_features
from feature_gan.networks import FeatureScaler, GanDiscriminator, GanGenerator, gradient_penalty, one_hot
from feature_gan.synthesizer import FeatureSynthesizer
from training.errors import DataError


def write_json(path, doc):
    path.write_text(json.dumps(doc))
    return path


def class_data(n_per=(30, 12, 6), d=13, seed=0):
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(3 * i, 1, (n, d)) for i, n in enumerate(n_per)])
    y = np.repeat(np.arange(len(n_per)), n_per)
    return x, y


def test_json_names_indices_and_mappings(tmp_path):
    x, y = class_data()
    names = ["blues", "jazz", "rock"]
    by_name = load_features(write_json(tmp_path / "a.json", {"features": x.tolist(), "labels": [names[i] for i in y]}))
    assert by_name.classes == names and by_name.counts() == {"blues": 30, "jazz": 12, "rock": 6}
    by_index = load_features(write_json(tmp_path / "b.json", {"mfcc": x.tolist(), "labels": y.tolist(),
                                                              "mapping": {"rock": 2, "blues": 0, "jazz": 1}}))
    assert by_index.classes == names and np.array_equal(by_index.y, y)
    listed = load_features(write_json(tmp_path / "c.json", {"mfcc": x.tolist(), "labels": y.tolist(), "mapping": names}))
    assert listed.classes == names


def test_2d_frames_are_reduced_never_faked(tmp_path):
    frames = np.arange(2 * 5 * 13, dtype=float).reshape(2, 5, 13)
    doc = {"mfcc": frames.tolist() * 2, "labels": ["a", "a", "b", "b"]}
    mean = load_features(write_json(tmp_path / "f.json", doc))
    np.testing.assert_allclose(mean.x[0], frames[0].mean(0))
    both = load_features(tmp_path / "f.json", reduce="mean_std")
    assert both.x.shape == (4, 26)
    np.testing.assert_allclose(both.x[1, 13:], frames[1].std(0))


@pytest.mark.parametrize(("doc", "fragment"), [
    ({"features": [[1, 2], [3]], "labels": ["a", "a"]}, "ragged"),
    ({"features": [[1, float("nan")], [1, 2], [3, 4]], "labels": ["a", "a", "a"]}, "NaN"),
    ({"features": [[1, 2], [2, 3]], "labels": [0, 5], "mapping": ["a", "b"]}, "label index 5"),
    ({"features": [[1, 2], [2, 3]], "labels": ["a", 1]}, "mix types"),
    ({"features": [[1, 2], [2, 3], [4, 5]], "labels": ["a", "a", "b"]}, "fewer than 2 samples: {'b': 1}"),
    ({"vectors": [[1, 2]], "labels": ["a"]}, "expected keys 'features' (or 'mfcc')"),
    ({"features": [[1, 2], [2, 3]], "labels": ["a", "x"], "mapping": ["a", "b"]}, "labels ['x'] are not in the mapping"),
])
def test_bad_feature_json(tmp_path, doc, fragment):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc).replace("NaN", "NaN"))
    with pytest.raises(DataError) as err:
        load_features(path)
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_csv_pattern_and_errors(tmp_path):
    assert expand_columns("mfcc{1..3}_mean,tempo") == ["mfcc1_mean", "mfcc2_mean", "mfcc3_mean", "tempo"]
    rows = ["filename,mfcc1_mean,mfcc2_mean,label"] + [f"f{i}.wav,{i},{i * 2},{'ab'[i % 2]}" for i in range(6)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_features(tmp_path / "t.csv", feature_columns="mfcc{1..2}_mean")
    assert data.x.shape == (6, 2) and data.classes == ["a", "b"]
    (tmp_path / "bad.csv").write_text("mfcc1_mean,label\n1,a\nx1,a\n")
    with pytest.raises(DataError, match=r"bad.csv:3:1: cannot parse 'x1'"):
        load_features(tmp_path / "bad.csv", feature_columns="mfcc1_mean")


def test_shapes_and_gradient_flow():
    g, d = GanGenerator(100, 3, 13, hidden_dim=32), GanDiscriminator(13, 3, hidden_dim=32)
    c = one_hot(torch.tensor([0, 1, 2, 1]), 3)
    out = g(torch.randn(4, 100), c)
    assert out.shape == (4, 13) and out.abs().max() <= 1
    d(out, c).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters() if p.dim() > 1)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in d.modules())


def test_gradient_penalty_against_hand_computation():
    torch.manual_seed(0)
    lin = torch.nn.Linear(13 + 3, 1)

    def critic(x, c):
        return lin(torch.cat([x, c], 1))

    real, fake = torch.randn(8, 13), torch.randn(8, 13)
    c = one_hot(torch.arange(8) % 3, 3)
    gp = gradient_penalty(critic, real, fake, c, torch.rand(8, 1))
    w = lin.weight[0, :13]  # a linear critic's gradient w.r.t. x is its weight, everywhere
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)


def test_scaler_exact_and_synthesizer_round_trip(tmp_path):
    x, y = class_data()
    scaler = FeatureScaler().fit(x)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(x).astype(np.float64)), x, rtol=1e-6, atol=1e-5)
    from feature_gan.data import FeatureData

    data = FeatureData(x, y, ["a", "b", "c"], [f"f{i}" for i in range(13)], "mem")
    s = FeatureSynthesizer(FeatureGANConfig(epochs=2, hidden_dim=16, batch_size=16)).fit(data)
    assert len(s.history) == 2 and set(s.history[0]) >= {"critic_loss", "wasserstein", "gradient_penalty"}
    s.save(tmp_path / "m")
    loaded = FeatureSynthesizer.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.sample("b", 20, seed=3), s.sample("b", 20, seed=3))
    assert loaded.sample("b", 7).shape == (7, 13)


def test_train_features_options_come_from_the_dataclasses():
    """CLI defaults and MLproject defaults of train-features are the dataclasses' (one source)."""
    import dataclasses
    from pathlib import Path

    import yaml

    from feature_gan.config import FeatureGANConfig, FeatureInput, FeatureRunOptions
    from ganflow.cli import main

    cli = {p.name: p.default for p in main.commands["train-features"].params}
    entry = yaml.safe_load((Path(__file__).resolve().parents[2] / "MLproject").read_text())["entry_points"]
    declared = entry["train_features"]["parameters"]
    for cls in (FeatureGANConfig, FeatureInput, FeatureRunOptions):
        for f in dataclasses.fields(cls):
            assert cli[f.name] == f.default, f.name
            if f.name in declared:
                assert type(f.default)(declared[f.name]["default"]) == f.default, f.name
    assert cli["register_as"] == "mfcc-wgan-gp" and cli["resume"] == ""
