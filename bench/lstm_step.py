"""One training batch (1 D step + 2 G steps, the seed README's sizes) under different LSTM
implementations, in one process: where could a faster step at identical maths come from?

Modes: ``seed`` (the seed's loop: G forward with autograd in the D step, two D passes, D weight
gradients in G steps), ``ganflow`` (ganflow's trainer loop on torch's oneDNN LSTM), ``unrolled``
(the same LSTM equations written out step by step, eager), ``compiled`` (that under
``torch.compile``), ``time_major`` (ganflow's loop, time-major tensors: no transposes). Synthetic
batch data: the kernels' cost does not depend on the values.

Usage: python bench/lstm_step.py [--modes seed,ganflow,unrolled,compiled,time_major] [--batches 100] [--rounds 3]
The modes alternate for ``--rounds`` rounds (this machine is shared and noisy); prints one JSON
line per mode with the per-round ms per batch, their median, the median ratio to ``seed``, and
the warm-up seconds (compilation included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch import nn

B, T, Z, H, F = 128, 12, 16, 66, 4


class Unrolled(nn.Module):
    """nn.LSTM's equations (gate order i, f, g, o), one step at a time."""

    def __init__(self, inputs: int, hidden: int, last_only: bool = False) -> None:
        super().__init__()
        ref = nn.LSTM(inputs, hidden, batch_first=True)
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0
        self.hidden, self.last_only = hidden, last_only

    def forward(self, x):
        xi = nn.functional.linear(x, self.w_ih, self.b_ih + self.b_hh)
        h = x.new_zeros(x.shape[0], self.hidden)
        c = x.new_zeros(x.shape[0], self.hidden)
        outs = []
        for s in range(x.shape[1]):
            i, f, g, o = (xi[:, s] + h @ self.w_hh.t()).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return h if self.last_only else torch.stack(outs, 1)


class Net(nn.Module):
    """G (noise -> rows, tanh) or D (rows -> last-step logit) over one of the LSTM variants."""

    def __init__(self, kind: str, mode: str) -> None:
        super().__init__()
        inputs, out = (Z, F) if kind == "G" else (F, 1)
        self.kind, self.mode = kind, mode
        unrolled = mode in ("unrolled", "compiled")
        self.lstm = Unrolled(inputs, H, last_only=kind == "D") if unrolled else \
            nn.LSTM(inputs, H, batch_first=mode != "time_major")
        self.fc = nn.Linear(H, out)

    def forward(self, x):
        if self.mode in ("unrolled", "compiled"):
            y = self.lstm(x)
        else:
            y = self.lstm(x)[0]
            if self.kind == "D":
                y = y[-1] if self.mode == "time_major" else y[:, -1]
        y = self.fc(y)
        return torch.tanh(y) if self.kind == "G" else y


def measure(mode: str, batches: int) -> dict:
    torch.manual_seed(0)
    g, d = Net("G", mode), Net("D", mode)
    gc, dc = (torch.compile(g, dynamic=False), torch.compile(d, dynamic=False)) if mode == "compiled" else (g, d)
    fused = mode != "seed"
    og = torch.optim.Adam(g.parameters(), 2e-5, betas=(0.5, 0.999), fused=fused)
    od = torch.optim.Adam(d.parameters(), 3e-5, betas=(0.5, 0.999), fused=fused)
    bce = nn.BCEWithLogitsLoss()
    tm = mode == "time_major"
    shape = (lambda b, f: (T, b, f)) if tm else (lambda b, f: (b, T, f))
    real = torch.rand(*shape(B, F)) * 2 - 1
    ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)

    def seed_batch() -> None:
        od.zero_grad()
        fake = g(torch.randn(*shape(B, Z))).detach()
        loss = bce(d(real), ones) + bce(d(fake), zeros)
        loss.backward()
        od.step()
        loss.item()
        for _ in range(2):
            og.zero_grad()
            loss = bce(d(g(torch.randn(*shape(B, Z)))), ones)
            loss.backward()
            og.step()
            loss.item()

    def ganflow_batch() -> None:
        od.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = gc(torch.randn(*shape(B, Z)))
        logits = dc(torch.cat([real, fake], 1 if tm else 0))
        (bce(logits[:B], ones) + bce(logits[B:], zeros)).backward()
        od.step()
        for _ in range(2):
            og.zero_grad(set_to_none=True)
            d.requires_grad_(False)
            bce(dc(gc(torch.randn(*shape(B, Z)))), ones).backward()
            d.requires_grad_(True)
            og.step()

    step = seed_batch if mode == "seed" else ganflow_batch
    t0 = time.perf_counter()
    for _ in range(3):
        step()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(batches):
        step()
    return {"mode": mode, "warmup_s": round(warm, 2), "ms_per_batch": round((time.perf_counter() - t0) / batches * 1e3, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="seed,ganflow,unrolled,compiled,time_major")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    modes = args.modes.split(",")
    runs = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            runs[mode].append(measure(mode, args.batches))
    seed = statistics.median(r["ms_per_batch"] for r in runs["seed"]) if "seed" in runs else None
    for mode, rs in runs.items():
        ms = [r["ms_per_batch"] for r in rs]
        med = statistics.median(ms)
        print(json.dumps({"mode": mode, "ms_per_batch": ms, "median_ms": med,
                          "speedup_vs_seed": round(seed / med, 2) if seed else None,
                          "warmup_s": max(r["warmup_s"] for r in rs)}))


if __name__ == "__main__":
    main()
