"""A check for a machine with a GPU (the project never needs one): checkpoints written and read on
CUDA resume as the uninterrupted run (BCE and WGAN-GP), and the epoch time on cuda vs cpu for the
bundled sample of the default model and of a wider one (hidden 256, batch 1024), so a user can see
where a GPU starts to pay. Needs no MLflow.

Usage: python bench/gpu_check.py
2026-11-26, one H100: resume differences 0 (BCE) and 5.7e-6 (WGAN-GP: CUDA's double-backward
kernels are not bit-deterministic); epochs 0.10 s cuda vs 0.13 s on the machine's 16 CPU cores.
2026-11-27, one H100 (its torch 2.11.0+cu130), the default of that day (slow inputs, sticky heads):
resume differences 0 / 2.4e-6; epochs 0.19-0.20 s cuda vs 0.18-0.29 s cpu (3 epochs with
calibration: 1.21 s vs 3.73 s) — too small a model for a GPU to matter; hidden 256, batch 1024:
0.05-0.08 s vs 0.30-0.33 s, 4-6x faster on the GPU.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import torch  # noqa: E402

from training.config import TraceGANConfig  # noqa: E402
from training.sample import make_sample_trace  # noqa: E402
from training.synthesizer import Synthesizer  # noqa: E402
from training.trainer import GANTrainer  # noqa: E402


def _trainer(cfg: TraceGANConfig, synth: Synthesizer, width: int) -> GANTrainer:
    return GANTrainer(cfg, width, heads=synth.transformer.heads, device="cuda")


def resume_difference(frame, loss: str) -> float:
    """Largest |weight difference| between 3 uninterrupted epochs and 2 + a checkpoint + 1."""
    cfg = TraceGANConfig(num_epochs=3, loss=loss, val_fraction=0.0, keep_best=False)
    synth = Synthesizer(cfg, device="cuda")
    data = torch.from_numpy(synth.prepare(frame).train_windows)
    whole = _trainer(cfg, synth, data.shape[2])
    whole.fit(data)
    first = _trainer(cfg, synth, data.shape[2])
    first.train_epoch(data)
    first.train_epoch(data)
    with tempfile.TemporaryDirectory() as d:
        path = first.save_checkpoint(os.path.join(d, "checkpoint_epoch_2.pt"))
        second = _trainer(cfg, synth, data.shape[2])
        second.load_checkpoint(path)  # map_location cuda: the CPU random state must come back to the CPU
    second.fit(data)
    pairs = zip(whole.generator.state_dict().values(), second.generator.state_dict().values())
    return max((a - b).abs().max().item() for a, b in pairs)


def main() -> None:
    out = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    frame = make_sample_trace(20_000, seed=0)
    for loss in ("bce", "wgan-gp"):
        out[f"resume_max_abs_diff_{loss}"] = resume_difference(frame, loss)
    for name, size in (("default", {}), ("wide", {"hidden_dim": 256, "batch_size": 1024})):
        for device in ("cuda", "cpu"):
            synth = Synthesizer(TraceGANConfig(num_epochs=3, val_fraction=0.2, **size), device=device)
            start = time.perf_counter()
            synth.fit(frame)
            out[f"{name}_fit_3_epochs_s_{device}"] = round(time.perf_counter() - start, 2)
            out[f"{name}_epoch_s_{device}"] = [round(h["seconds"], 3) for h in synth.history]
            out[f"{name}_sample_ok_{device}"] = synth.sample(10_000, seed=1).shape == (10_000, 5)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
