from __future__ import annotations

import mlflow
import pytest

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.pipeline import train

TINY = dict(num_epochs=3, batch_size=64, hidden_dim=8, latent_dim=4, seq_len=8, seed=3)


def test_val_mmd2_every_n_epochs_and_callbacks(tracking_uri, sample_file, tmp_path):
    seen = []
    result = train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**TINY),
                   RunOptions(eval_every=2, eval_sample=500, save_dir=str(tmp_path), plots=False),
                   callbacks=[lambda epoch, value, health: seen.append((epoch, value))])
    assert [e for e, _ in seen] == [2, 3] and dict(seen) == result.val_mmd2
    history = mlflow.MlflowClient().get_metric_history(result.run_id, "val_mmd2")
    assert [(m.step, m.value) for m in history] == seen
    card = result.fidelity["scorecard"]
    assert card["n_real"] == 600 and card["n_synthetic"] == 600 and "mmd2_floor" in result.fidelity["rows"]
    assert card["metrics"]["hrc_mae"]["floor"] >= 0 and card["metrics"]["read_fraction"]["real"] is not None


def test_no_validation_when_val_fraction_is_zero(tracking_uri, sample_file, tmp_path):
    result = train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**TINY, val_fraction=0.0),
                   RunOptions(save_dir=str(tmp_path)))
    assert result.val_mmd2 == {} and result.fidelity == {}
    assert mlflow.get_run(result.run_id).info.status == "FINISHED"


def test_a_run_with_levels_logs_what_it_fitted(tracking_uri, sample_file, tmp_path):
    result = train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**TINY, val_fraction=0.0, levels=True),
                   RunOptions(save_dir=str(tmp_path)))
    run = mlflow.get_run(result.run_id)
    fitted = result.synthesizer.meta["levels"]
    for name in ("interarrival", "latency"):
        assert fitted[name]["taus"] == [64, 512]
        for w, tau in zip(fitted[name]["weights"], fitted[name]["taus"]):
            assert run.data.metrics[f"level_{name}_{tau}"] == w
    assert "slow levels" in run.data.tags["mlflow.note.content"]


def test_callback_error_ends_the_run_failed(tracking_uri, sample_file, tmp_path):
    class Stop(Exception):
        pass

    def stop(epoch, value, health):
        raise Stop(f"pruned at {epoch}")

    with pytest.raises(Stop):
        train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**TINY),
              RunOptions(eval_every=1, eval_sample=300, save_dir=str(tmp_path)), callbacks=[stop])
    run = mlflow.search_runs(experiment_names=["trace-gan"], output_format="list")[0]
    assert run.info.status == "FAILED" and run.data.tags["error"] == "Stop: pruned at 1"


def test_latest_checkpoint_prefers_the_newest_local_or_downloads_it(tracking_uri, sample_file, tmp_path):
    from training.resume import latest_checkpoint

    result = train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**TINY),
                   RunOptions(eval_every=0, checkpoint_every=1, save_dir=str(tmp_path / "ck"), plots=False))
    folder = result.local_dir / "checkpoints"
    assert latest_checkpoint(result.run_id, folder) == folder / "checkpoint_epoch_3.pt"
    original = (folder / "checkpoint_epoch_3.pt").read_bytes()
    for name in ("checkpoint_epoch_2.pt", "checkpoint_epoch_3.pt"):
        (folder / name).unlink()  # the local copies are gone; the run's artifacts hold epoch 3
    got = latest_checkpoint(result.run_id, folder)
    assert got == folder / "checkpoint_epoch_3.pt" and got.read_bytes() == original


def test_the_registered_generator_is_the_best_validated_epoch(tracking_uri, sample_file, tmp_path):
    result = train(DataConfig(trace_path=str(sample_file)), TraceGANConfig(**{**TINY, "num_epochs": 4}),
                   RunOptions(eval_every=1, eval_sample=500, save_dir=str(tmp_path), plots=False, register_as="m"))
    client = mlflow.MlflowClient()
    fields = {m.step: m.value for m in client.get_metric_history(result.run_id, "val_fields")}
    select = {m.step: m.value for m in client.get_metric_history(result.run_id, "val_select")}
    assert sorted(fields) == sorted(select) == [1, 2, 3, 4]
    best = min(select, key=select.get)  # keep_best chooses by val_fields + the default detection and burst terms
    assert result.model_epoch == best and result.model_val_mmd2 == result.val_mmd2[best]
    version = client.get_model_version("m", result.registered_version)
    assert version.tags["model_epoch"] == str(best) and version.tags["epochs"] == "4"
    assert float(version.tags["val_mmd2"]) == result.final_val_mmd2  # the registered (calibrated) generator's
    run = client.get_run(result.run_id)
    assert run.data.metrics["model_epoch"] == best and run.data.tags["model_epoch"] == str(best)
    assert run.data.metrics["model_val_mmd2"] == result.val_mmd2[best] and run.data.metrics["model_val_fields"] == fields[best]
    assert run.data.metrics["model_val_select"] == select[best]
    # the logged model is that generator: it scores what the best epoch scored
    from training.data import load_frame
    from training.fidelity import Validator
    from training.mlflow_model import load_logged_synthesizer
    from training.sequences import time_split

    frame = load_frame(DataConfig(trace_path=str(sample_file)))[0]
    validator = Validator(frame.slice(time_split(len(frame), 0.2), len(frame)), sample=500)
    registered = load_logged_synthesizer(f"models:/m/{result.registered_version}")
    # every epoch was scored calibrated, as saved (Synthesizer.epoch_model): the registered generator
    # scores exactly what its epoch scored when it was chosen
    assert validator(registered) == pytest.approx(run.data.metrics["calibrated_val_mmd2"], rel=1e-9)
    assert run.data.metrics["calibrated_val_mmd2"] == pytest.approx(result.val_mmd2[best], rel=1e-9)
    assert run.data.metrics["calibrated_val_fields"] == pytest.approx(fields[best], rel=1e-9)
    assert result.final_val_mmd2 == run.data.metrics["calibrated_val_mmd2"]  # a run is judged by what it logged
    assert "every epoch scored calibrated, as saved" in run.data.tags["mlflow.note.content"]
    assert run.data.tags["calibrated"] == "interarrival, latency, size categories, op categories, addr categories"
    assert registered.meta["epoch"] == best and registered.meta["calibration"]["head_error_after"] < 0.01


def test_keep_best_with_detection_and_burstiness_weights(tracking_uri, sample_file, tmp_path):
    result = train(DataConfig(trace_path=str(sample_file)),
                   TraceGANConfig(**{**TINY, "num_epochs": 3}, select_detection=0.5, select_burst=0.1),
                   RunOptions(eval_every=1, eval_sample=500, save_dir=str(tmp_path), plots=False))
    client = mlflow.MlflowClient()
    history = {k: {m.step: m.value for m in client.get_metric_history(result.run_id, k)}
               for k in ("val_fields", "val_detection_12", "val_burst", "val_select")}
    assert all(sorted(h) == [1, 2, 3] for h in history.values())
    for e in (1, 2, 3):
        assert history["val_select"][e] == pytest.approx(history["val_fields"][e] + 0.5 * history["val_detection_12"][e]
                                                         + 0.1 * history["val_burst"][e])
    best = min(history["val_select"], key=history["val_select"].get)
    run = client.get_run(result.run_id)
    assert result.model_epoch == best and run.data.metrics["model_val_select"] == history["val_select"][best]
    assert run.data.metrics["model_val_detection_12"] == history["val_detection_12"][best]
    assert "for the lowest val_fields + 0.5 × 12-row detection + 0.1 × burstiness" in run.data.tags["mlflow.note.content"]
