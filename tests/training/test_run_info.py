from __future__ import annotations

from dataclasses import replace

from training.config import TraceGANConfig
from training.run_info import lr_label, result_summary, training_description, training_run_name
from training.tracking import flatten_params, source_keys


def test_run_names_say_what_the_run_is():
    assert lr_label(5e-4) == "5e-4" and lr_label(4.275936647080321e-05) == "4.3e-5" and lr_label(2e-5) == "2e-5"
    base = TraceGANConfig()
    assert training_run_name(base) == f"gan-typed-lr5e-4-s{base.seed}"
    assert training_run_name(replace(base, loss="wgan-gp", d_updates=5)) == f"wgan-typed-lr5e-4-d5g1-s{base.seed}"
    seedish = replace(base, feature_mode="absolute", log1p=(), lr_g=2e-5, lr_d=3e-5, d_updates=1, g_updates=2, seed=7)
    assert training_run_name(seedish) == "gan-absolute-lr2e-5-lrd3e-5-d1g2-s7"


def test_description_and_summary():
    text = training_description(TraceGANConfig(), "/data/web0.csv.gz", 100_000)
    assert text.startswith("Trace GAN on web0.csv.gz (100,000 rows, the last 20% held out") and "1 D : 1 G" in text
    assert "8 buckets, drawn first, the other outputs given it" in text
    assert "; categories kept from row to row as often as the trace repeats them, streams carried" in text
    assert "inputs carried from a 1,024-row burn-in; categories kept" in text
    assert "burn-in" not in training_description(replace(TraceGANConfig(), burn_in=0), "t.csv", 10)
    assert "categories kept" not in training_description(replace(TraceGANConfig(), sticky_heads=False), "t.csv", 10)
    slow = training_description(replace(TraceGANConfig(), slow_noise=3, noise_skip=True), "t.csv", 10)
    assert "LSTM state and 3 slow latent inputs carried" in slow and "each row's noise also straight to its latency" in slow
    plain = training_description(replace(TraceGANConfig(), slow_noise=0, noise_skip=False), "t.csv", 10)
    assert "slow latent" not in plain and "straight to" not in plain and "G's loss" not in plain
    terms = training_description(replace(TraceGANConfig(), moment_weight=1.0, window_weight=0.5), "t.csv", 10)
    assert "; G's loss with the moment term x1 and the window-shape term x0.5" in terms
    assert "; G's loss with the window-shape term x1;" in training_description(
        replace(TraceGANConfig(), window_weight=1.0), "t.csv", 10)
    levels = training_description(replace(TraceGANConfig(), levels=True), "t.csv", 10)
    assert "after training, then slow levels of inter-arrival time and latency fitted" in levels
    assert "slow levels" not in training_description(replace(TraceGANConfig(), levels=True, carry_state=False), "t", 1)
    phased = training_description(replace(TraceGANConfig(), phases=True), "t.csv", 10)
    assert "after training, then read/write phases (a slow share of the opcode's noise, where the trace has one)" in phased
    assert "read/write phases" not in levels and "read/write phases" not in training_description(
        replace(TraceGANConfig(), phases=True, calibrate=False), "t", 1)
    assert "slow levels" not in text
    assert "; marginals (sizes given the address action) calibrated to the training part" in text
    assert "; marginals calibrated" in training_description(replace(TraceGANConfig(), calibrate_by_action=False), "t", 1)
    raw = training_description(replace(TraceGANConfig(), calibrate_address=False), "t", 1)
    assert "; marginals (sizes given the address action; the address actions' mix G's own) calibrated" in raw
    assert result_summary({}, {}) == ""
    summary = result_summary({5: 0.2, 10: 0.1, 15: 0.3}, {}, 10)
    assert summary == "val_mmd2 0.1 at epoch 10, the generator kept (last 0.3 at epoch 15)."
    assert result_summary({5: 0.2, 10: 0.1}, {}) == "val_mmd2 0.1 at epoch 10, the generator kept."
    chosen = result_summary({5: 0.2, 10: 0.4, 15: 0.1}, {}, 10, kept_val_fields=0.2691)
    assert chosen == "val_mmd2 0.4 at epoch 10, the generator kept for the lowest val_fields (0.269; last epoch 15: val_mmd2 0.1)."
    assert result_summary({5: 0.2}, {}, 5, kept_val_fields=0.3) == ("val_mmd2 0.2 at epoch 5, the generator kept for the "
                                                                    "lowest val_fields (0.3).")
    cal = {"val_mmd2": 0.05, "val_fields": 0.1}
    assert result_summary({5: 0.05}, {}, 5, cal, as_saved=True) == ("val_mmd2 0.05 at epoch 5, the generator kept, "
                                                                   "every epoch scored calibrated, as saved.")
    assert result_summary({5: 0.2}, {}, 5, cal) == ("val_mmd2 0.2 at epoch 5, the generator kept; after calibration "
                                                    "val_mmd2 0.05, val_fields 0.1.")


def test_params_keep_four_significant_digits_and_source_keys_are_not_doubled():
    params = flatten_params("", {"lr_g": 4.275936647080321e-05, "epochs": 3, "log1p": ("a", "b"), "x": None, "f": 0.2})
    assert params == {"lr_g": "4.276e-05", "epochs": "3", "log1p": "a,b", "x": "", "f": "0.2"}
    assert source_keys({"model_name": "m", "source_run_id": "r"}) == {"source_model_name": "m", "source_run_id": "r"}
