"""Synthesis throughput, side by side on one trained model (ratios in one run, not absolute times).

Paths, each producing the same number of rows (default 1,000,000) from the default architecture
(hidden 66, latent 16, seq 12, trained 1 epoch on the bundled sample: quality is irrelevant here),
the default (typed) model for ganflow's paths, a seed-mode one for the seed's:

  seed_path        the seed's generate (batches of 64 sequences, per-column scikit-learn inverse)
                   and row-by-row writer (" ".join(str(int(v)))), as ../shared/bench/seed_reference.py
  torch_eager      Synthesizer.sample_chunks (noise + torch + inverse + stream decoding), no writing
  onnx_bare        onnxruntime session.run on pre-drawn noise blocks, the LSTM state carried: model time only
  lru_decode       the LRU-stack address decoder alone, on the model's own actions
  generate_csv     ganflow's synthesize_to_file, ONNX model, CSV, end to end (file on disk)
  generate_parquet the same to Parquet
  generate_msr, generate_mqsim  the same in the MSR CSV and MQSim ASCII layouts (serving.layouts)
  generate_csv_2s2w  CSV with --streams 2 --workers 2
  generate_*_levels  CSV / Parquet with slow levels (--levels) on the gaps and latency, two time scales each
  generate_csv_phases  CSV with read/write phases (--phases) on the opcode head (slow share 0.9 over 4,096 rows)
  windows_*        the same for a model of independent windows with the LBA as a number
                   (--carry_state false --locality none; the default before part 2), --shards 4 for 2w

The default model is one stream (one recurrent run: a batch of one sequence per block), the
windows model 1,024 independent windows per block.

Usage: python bench/synthesis.py [--rows 1000000]
Targets: generate_* >= 500k rows/s on 2 cores with the stateful decoders, and >= 5x seed_path.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from serving.onnx_export import OnnxSynthesizer, export_onnx  # noqa: E402
from serving.synthesize import synthesize_to_file  # noqa: E402
from training.config import TraceGANConfig  # noqa: E402
from training.sample import make_sample_trace  # noqa: E402
from training.synthesizer import BLOCK_SEQUENCES, Synthesizer, block_noise, noise_dim  # noqa: E402


def seed_path(synth: Synthesizer, n: int, out: Path) -> None:
    """The seed's generation and writer, verbatim in spirit (see seed_reference.py)."""
    import torch
    from sklearn.preprocessing import MinMaxScaler

    t = synth.transformer
    scalers = []
    for j in range(4):
        s = MinMaxScaler((-1, 1))
        s.fit(np.array([[t.data_min_[j]], [t.data_max_[j]]]))
        scalers.append(s)
    c, g = synth.config, synth.generator
    outs, made = [], 0
    with torch.no_grad():
        while made < n:
            bs = min(64, (n - made) // c.seq_len + 1)
            f = g(torch.randn(bs, c.seq_len, c.latent_dim)).numpy().reshape(-1, 4)
            outs.append(np.hstack([scalers[j].inverse_transform(f[:, [j]]) for j in range(4)]))
            made += bs * c.seq_len
    rows = np.concatenate(outs)[:n]
    with open(out, "w") as fh:
        for row in rows:
            fh.write(" ".join(str(int(v)) for v in row) + "\n")


def rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    n = args.rows
    trace = make_sample_trace(20_000)
    synth = Synthesizer(TraceGANConfig(num_epochs=1, val_fraction=0.0))
    synth.fit(trace)
    windows = Synthesizer(TraceGANConfig(num_epochs=1, val_fraction=0.0, carry_state=False, locality="none"))
    windows.fit(trace)
    seed_synth = Synthesizer(TraceGANConfig(num_epochs=1, val_fraction=0.0, feature_mode="absolute", log1p=(),
                                            carry_state=False))
    seed_synth.fit(trace)
    graph = export_onnx(synth)
    onnx_model = OnnxSynthesizer(graph)  # onnxruntime's default threads: the bare baseline
    onnx_stream = OnnxSynthesizer(graph, threads=1)  # one intra-op thread per decode thread
    onnx_windows = OnnxSynthesizer(export_onnx(windows), threads=1)
    c, per_block = synth.config, BLOCK_SEQUENCES * synth.config.seq_len
    n_blocks = -(-n // per_block)
    dim = noise_dim(c, synth.transformer)
    noise = [block_noise(c, 0, b, dim, stream=0).reshape(1, per_block, dim) for b in range(n_blocks)]

    def bare() -> list:
        state, out = None, []
        for z in noise:
            rows, state = onnx_model.decode(z, state)
            out.append(rows)
        return out

    actions = np.concatenate(bare())
    t = synth.transformer
    t.addresses(actions[:100], t.new_stack())  # numba compiles (or loads its cache) once
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        results["seed_path"] = rate(n, lambda: seed_path(seed_synth, n, d / "seed.txt"))
        results["torch_eager"] = rate(n, lambda: sum(len(c) for c in synth.sample_chunks(n)))
        results["onnx_bare"] = rate(n_blocks * per_block, bare)
        results["lru_decode"] = rate(len(actions), lambda: t.addresses(actions, t.new_stack()))
        results["generate_csv"] = rate(n, lambda: synthesize_to_file(onnx_stream, n, d / "o.csv", fmt="csv"))
        results["generate_parquet"] = rate(n, lambda: synthesize_to_file(onnx_stream, n, d / "o.parquet", fmt="parquet"))
        results["generate_seed_text"] = rate(n, lambda: synthesize_to_file(onnx_stream, n, d / "o.txt", fmt="text4"))
        for fmt in ("msr", "mqsim"):  # published layouts (serving.layouts): times in the format's unit
            results[f"generate_{fmt}"] = rate(n, lambda f=fmt: synthesize_to_file(onnx_stream, n, d / f"o.{f}", fmt=f))
        levelled = OnnxSynthesizer(graph, threads=1)
        knots = lambda name: t.encoders[name].inverse(np.linspace(-1, 1, 513)).tolist()  # noqa: E731
        levelled.transformer = t.with_levels({name: {"weights": [0.45, 0.6], "taus": [64, 512],
                                                     "knots": knots(name)} for name in ("interarrival", "latency")})
        results["generate_csv_levels"] = rate(n, lambda: synthesize_to_file(levelled, n, d / "l.csv", fmt="csv"))
        results["generate_parquet_levels"] = rate(n, lambda: synthesize_to_file(levelled, n, d / "l.parquet",
                                                                                fmt="parquet"))
        phased = OnnxSynthesizer(graph, threads=1)
        phased.config = replace(phased.config, phases=True)
        phased.transformer = t.with_phases({"op": {"rho": 0.9, "tau": 4096, "keep": 0.4}})
        results["generate_csv_phases"] = rate(n, lambda: synthesize_to_file(phased, n, d / "p.csv", fmt="csv"))
        results["generate_csv_2s2w"] = rate(n, lambda: synthesize_to_file(onnx_model, n, d / "o2.csv", fmt="csv",
                                                                          streams=2, workers=2))
        results["windows_generate_csv"] = rate(n, lambda: synthesize_to_file(onnx_windows, n, d / "w.csv", fmt="csv"))
        results["windows_generate_parquet"] = rate(n, lambda: synthesize_to_file(onnx_windows, n, d / "w.parquet",
                                                                                 fmt="parquet"))
        results["windows_generate_csv_2w"] = rate(n, lambda: synthesize_to_file(onnx_windows, n, d / "w2.csv",
                                                                                fmt="csv", shards=4, workers=2))
    bare_rate, seed = results["onnx_bare"], results["seed_path"]
    print(json.dumps({"rows": n, "rows_per_s": {k: round(v) for k, v in results.items()},
                      "vs_onnx_bare": {k: round(v / bare_rate, 2) for k, v in results.items() if "generate" in k},
                      "vs_seed_path": {k: round(v / seed, 1) for k, v in results.items() if k != "seed_path"}},
                     indent=1))


if __name__ == "__main__":
    main()
