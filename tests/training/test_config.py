from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"num_epochs": 0}, "num_epochs must be a positive integer, but got num_epochs=0"),
    ({"batch_size": -5}, "batch_size=-5"),
    ({"lr_g": 0.0}, "lr_g must be > 0, but got lr_g=0.0"),
    ({"lr_d": -1e-3}, "lr_d must be > 0"),
    ({"seq_len": 1}, "seq_len must be at least 2"),
    ({"val_fraction": 1.0}, "val_fraction must be in [0, 1)"),
    ({"feature_mode": "fft"}, "feature_mode must be one of absolute, delta"),
    ({"feature_mode": "absolute", "log1p": "length"}, "needs feature_mode='delta'"),
    ({"feature_mode": "delta", "log1p": "opcode"}, "log1p columns must be among"),
])
def test_bad_values_are_named(kwargs, fragment):
    with pytest.raises(ConfigError) as err:
        TraceGANConfig(**kwargs)
    assert fragment in str(err.value)


def test_dict_round_trip():
    c = TraceGANConfig(feature_mode="delta", log1p="length,latency")
    assert c.log1p == ("length", "latency")
    assert TraceGANConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown TraceGANConfig keys: bogus"):
        TraceGANConfig.from_dict({**c.to_dict(), "bogus": 1})


def _entry(name):
    spec = yaml.safe_load((ROOT / "MLproject").read_text())
    return spec["entry_points"][name]


def test_mlproject_train_defaults_match_dataclasses_and_reach_the_command():
    entry = _entry("train")
    params, command = entry["parameters"], entry["command"]
    for cls in (DataConfig, TraceGANConfig, RunOptions):
        for f in dataclasses.fields(cls):
            assert f.name in params, f"MLproject train lacks {f.name}"
            if f.name == "register_as":  # the MLproject job registers by design
                assert params[f.name]["default"] == "trace-gan"
                continue
            default = f.default if not isinstance(f.default, tuple) else ",".join(f.default)
            declared = params[f.name]["default"]
            if default is None or default == "":
                assert declared in ("", None), f.name
            elif isinstance(default, bool):
                assert str(declared) == str(default), f.name
            else:
                assert type(default)(declared) == default, f"{f.name}: MLproject {declared!r} != {default!r}"
    for name in params:
        assert re.search(rf"--{name} \{{{name}\}}", command), f"parameter {name} never reaches the command"


def test_mlproject_evaluate_reaches_the_command():
    entry = _entry("evaluate")
    for name in entry["parameters"]:
        assert re.search(rf"--{name} \{{{name}\}}", entry["command"]), name
    assert "default" not in entry["parameters"]["real"]  # required


def test_cli_defaults_match_dataclasses():
    from ganflow.cli import train

    defaults = {p.name: p.default for p in train.params}
    for cls in (DataConfig, TraceGANConfig, RunOptions):
        for f in dataclasses.fields(cls):
            expected = ",".join(f.default) if isinstance(f.default, tuple) else f.default
            assert defaults[f.name] == expected, f.name


@pytest.mark.parametrize("name", ["export", "generate", "tune", "train_features", "augment", "evaluate_augmentation",
                                  "tune_features"])
def test_mlproject_serving_entry_points_reach_the_command(name):
    from ganflow.cli import main

    entry = _entry(name)
    options = {opt for p in main.commands[name.replace("_", "-")].params for opt in p.opts}
    for param in entry["parameters"]:
        assert re.search(rf"--{param} \{{{param}\}}", entry["command"]), param
        assert f"--{param}" in options, f"ganflow {name} has no --{param}"


def test_mlproject_tune_defaults_match_the_cli():
    from ganflow.cli import main

    defaults = {p.name: p.default for p in main.commands["tune"].params}
    for name, spec in _entry("tune")["parameters"].items():
        declared, default = spec["default"], defaults[name]
        if isinstance(default, bool):
            assert str(declared) == str(default), name
            continue
        assert (declared in ("", None) and default in ("", None)) or type(default)(declared) == default, name


def test_seed_recipe_flag_applies_the_seed_and_explicit_options_win(monkeypatch):
    from click.testing import CliRunner

    import training.pipeline as pipeline
    from ganflow.cli import main

    seen = {}

    def fake_train(data, config, options, **kwargs):
        seen["config"] = config
        raise ConfigError("stop here")

    monkeypatch.setattr(pipeline, "train", fake_train)
    res = CliRunner().invoke(main, ["train", "--seed_recipe", "true", "--lrD", "1e-4"])
    assert res.exit_code == 2 and "stop here" in res.output
    c = seen["config"]
    assert (c.feature_mode, c.log1p, c.lr_g, c.d_updates, c.g_updates) == ("absolute", (), 2e-5, 1, 2)
    assert c.lr_d == 1e-4  # given explicitly
    assert TraceGANConfig().feature_mode == "typed"  # the measured default


def test_earlier_seed_spellings_still_work(tmp_path, sample_frame):
    """``seed`` / ``seed_synth`` were the names of the absolute feature mode and the text6 / text4
    formats; configs, saved transformers, readers, writers and the CLI still take them."""
    from click.testing import CliRunner

    from ganflow.cli import main
    from serving.writers import open_writer, write_trace_frame
    from training.readers import read_trace
    from training.transform import TraceTransformer

    assert TraceGANConfig(feature_mode="seed", log1p=()).feature_mode == "absolute"
    assert TraceGANConfig.from_dict({**TraceGANConfig(feature_mode="absolute", log1p=()).to_dict(),
                                     "feature_mode": "seed"}).feature_mode == "absolute"
    assert DataConfig(trace_format="seed").trace_format == "text6"
    assert DataConfig(trace_format="seed_synth").trace_format == "text4"
    fitted = TraceTransformer(mode="absolute").fit(sample_frame).to_dict()
    assert TraceTransformer.from_dict({**fitted, "mode": "seed"}).mode == "absolute"
    real = write_trace_frame(sample_frame, tmp_path / "real.txt", "seed")  # the text6 layout
    assert len(read_trace(real, "seed")) == len(read_trace(real, "text6")) == len(sample_frame)
    with open_writer(tmp_path / "s.txt", "seed") as w:  # synthetic output: the text4 layout
        w.write(sample_frame.values()[:5])
    assert len(read_trace(tmp_path / "s.txt", "seed_synth")) == 5
    res = CliRunner().invoke(main, ["inspect", str(real), "--format", "seed", "--json"])
    assert res.exit_code == 0 and f'"rows": {len(sample_frame)}' in res.output
    res = CliRunner().invoke(main, ["inspect", str(real), "--format", "seedy"])
    assert res.exit_code == 2 and "text6" in res.output and "'seed'" not in res.output
