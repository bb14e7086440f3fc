"""Marginal calibration of a trained typed generator: its own dependence, the training data's marginals.

A GAN judged one window at a time keeps a trace's shape but not always its mix: a one-hot head
can settle on one category (the opcode head writing 100% reads where the trace has 66%), a
continuous column can lose its tail (inter-arrival times whose p99 is 1% of the real one).
After training, ``calibrate`` rolls the generator out (the same noise path as sampling) and
fits two corrections, both part of the generator's weights, so torch and ONNX apply them alike:

* **continuous columns** (inter-arrival time, latency, the LBA without locality): the generator's
  own CDF of the column's pre-activation, ``p = F_G(x)`` (a table on a uniform grid over the
  rollout's range: no tanh rounding, so a saturated output is still ranked), then the training
  column's encoded quantile at ``p``. The map is rank-preserving: which rows are long or slow stays
  the generator's choice, only the values' distribution becomes the training one (the copula stays,
  the marginal is fixed, as quantile mapping corrects a climate model's output). The tables are
  buffers of the generator (``LSTMGenerator.set_calibration``, ``training.models.calibrated``), so
  they are saved with its weights and traced into the ONNX graph. ``length`` is not calibrated: it is
  used only for the ``size=other`` category.
* **one-hot heads** (size, opcode, and the address action unless ``calibrate_address`` is off): a
  bias per category added to the logits, found by iterative proportional fitting so that the mean
  of ``softmax(logits + bias)`` over the rollout — the Gumbel-max sampling frequencies — equals the
  training frequencies. It is folded into the output layer's bias, so the saved weights and the
  ONNX graph carry it unchanged. An ``address_first`` generator's other outputs depend on the
  drawn action, so its address head is fitted first, and the rest on a second rollout; with
  ``calibrate_by_action`` (whether the action mix was calibrated or left as the network made it)
  the size head given the action: its biases are fitted per action class
  (sequential, new, reuse) on the rollout rows that drew it, to the training rows' size frequencies
  in that class, and folded into the ``cond`` vector of each action of the class (then one bias on
  top restores the mix exactly; where the action mix is the network's and not the trace's, that bias
  pulls each class some way toward the mix). A reuse of a page comes with a reuse's size, as the training rows'
  do (web0: 0-3% of reuses are 64 KiB or more); fitted to the mix alone, every action got the same
  shift and 7-19% of the model's reuses were (docs/QUALITY.md, two trained models). The
  opcode stays fitted to the mix: given the action, its runs broke up (docs/QUALITY.md).

Nothing of the training rows themselves is kept: only 512 quantiles per column (as the quantile
encoding already stores) and, folded into the biases, per-category frequencies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["calibrate", "rollout", "fit_continuous", "fit_head_bias", "head_error", "GRID", "LEVELS"]

GRID = 1024  # points of the generator's CDF table over its pre-activation
LEVELS = 512  # quantiles of the training column's encoded values
ROWS = 1 << 16  # rollout rows the calibration is fitted on
STREAMS = 8  # a carried-state model's rollout: this many streams from a zero state, burn-in dropped, as sampled
_SEED = 1 << 20  # the rollout's noise seed, apart from any sample's
MIN_CLASS_ROWS = 256  # training-window rows of an address-action class for its own size biases


def fit_continuous(pre: np.ndarray, real: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray] | None:
    """``(lo, hi, cdf, q)`` for one column (``training.models.calibrated``): the mid-rank CDF of the
    generator's pre-activations ``pre`` on ``GRID`` points over their range, and ``LEVELS``
    quantiles of the training column's encoded values ``real``; None when ``pre`` is constant."""
    z = np.sort(np.asarray(pre, np.float64))
    lo, hi = float(z[0]), float(z[-1])
    if not hi - lo > 1e-6 * max(1.0, abs(lo)):
        return None
    grid = np.linspace(lo, hi, GRID)
    # mid-rank: a run of equal outputs maps to the middle of its ranks
    cdf = (np.searchsorted(z, grid, "left") + np.searchsorted(z, grid, "right")) / (2.0 * len(z))
    q = np.quantile(np.asarray(real, np.float64), np.linspace(0.0, 1.0, LEVELS))
    return lo, hi, cdf, q


def fit_head_bias(logits: np.ndarray, target: np.ndarray, *, tol: float = 1e-4, max_iter: int = 500) -> np.ndarray:
    """Per-category bias ``b`` with ``mean(softmax(logits + b)) == target`` (iterative proportional
    fitting; ``target`` is clipped away from 0 so every bias stays finite). ``softmax(x + b)`` is
    ``e * w / (e @ w)`` with ``e = exp(x - rowmax)`` and ``w = exp(b)``: exponentiated once, each
    iteration is two matrix-vector products."""
    x = np.asarray(logits, np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    target = np.maximum(np.asarray(target, np.float64), 1e-7)
    target /= target.sum()
    b = np.zeros(e.shape[1])
    for _ in range(max_iter):
        w = np.exp(b)
        mean = w * (e.T @ (1.0 / np.maximum(e @ w, 1e-300))) / len(e)
        if np.abs(mean - target).max() < tol:
            break
        b += np.log(target) - np.log(np.maximum(mean, 1e-300))
        b -= b.max()
    return b


def rollout(synth, rows: int = ROWS) -> np.ndarray:
    """The generator's output layer before tanh and Gumbel noise, float32, from the sampling noise
    path (``block_noise``) of a seed no sample uses: ``(STREAMS, rows / STREAMS, features)``, each
    stream's rows in order after its burn-in, for a carried-state model; ``(1, rows, features)`` else."""
    import torch

    from training.synthesizer import BLOCK_SEQUENCES, StreamNoise, block_noise, noise_dim, phase_groups, sticky_groups

    c, gen = synth.config, synth.generator
    dim, per_block = noise_dim(c, synth.transformer), BLOCK_SEQUENCES * c.seq_len
    out = []
    device = next(gen.parameters()).device
    with torch.inference_mode():
        if c.carry_state:  # the streams side by side, one batch: a step of 4 costs about what a step of 1 does
            skip = c.burn_in  # each stream: its burn-in, then its share of the rows
            blocks = max(1, -(-(-(-rows // STREAMS) + skip) // per_block))
            groups = sticky_groups(c, synth.transformer), phase_groups(c, synth.transformer)
            draws, state = [StreamNoise(c, _SEED, stream, dim, *groups) for stream in range(STREAMS)], None
            for block in range(blocks):
                z = np.concatenate([draw(block) for draw in draws])
                pre, state = gen.preactivations(torch.from_numpy(z).to(device), state)
                pre, skip = pre[:, skip:], max(0, skip - pre.shape[1])  # a stream's burn-in, as sampling drops it
                out.append(pre.float().cpu().numpy())
            return np.concatenate(out, axis=1)
        for block in range(max(1, -(-rows // per_block))):
            pre, _ = gen.preactivations(torch.from_numpy(block_noise(c, _SEED, block, dim)).to(device))
            out.append(pre.reshape(-1, pre.shape[-1]).float().cpu().numpy())
    return np.concatenate(out)[None]


def calibrate(synth, train_windows: np.ndarray, *, rows: int = ROWS) -> dict[str, Any]:
    """Fit and install the calibration of ``synth`` (a fitted typed model) against the encoded
    training windows; returns what changed, for the run's record: the calibrated columns and, per
    head, the generator's category frequencies before and after and the training ones."""
    import torch

    t, gen = synth.transformer, synth.generator
    real = np.asarray(train_windows, np.float32).reshape(-1, train_windows.shape[-1])
    names, n_cont = t.continuous_names, gen.n_continuous
    address = t.locality != "none" and synth.config.calibrate_address
    done = {}  # head name -> (bias, record)
    drawn = gen.cond is not None  # the rollout's last column: the address action drawn
    k = t.heads[-1]
    if address and drawn:  # the other outputs depend on the drawn action: fit its bias first
        pre = rollout(synth, rows)
        pre = pre.reshape(-1, pre.shape[-1])[:, :-1]
        done["addr"] = _head(pre[:, -k:], real[:, -k:])
        with torch.no_grad():
            gen.fc.bias[-k:] += torch.as_tensor(done["addr"][0], dtype=gen.fc.bias.dtype, device=gen.fc.bias.device)
    pre = rollout(synth, rows)
    pre = pre.reshape(-1, pre.shape[-1])
    action = pre[:, -1].astype(np.int64) if drawn else None
    pre = pre[:, :-1] if drawn else pre
    by_action = t.locality != "none" and drawn and synth.config.calibrate_by_action  # whoever set the action mix
    classes = t.address_actions(np.arange(k)).astype(np.int64) if by_action else None  # SEQ 0, NEW 1, REUSE 2
    report: dict[str, Any] = {"rows": len(pre), "columns": [], "heads": {}}
    lo, hi = np.zeros(n_cont), np.zeros(n_cont)  # hi <= lo: the column stays plain tanh
    cdf, q = np.zeros((n_cont, GRID)), np.zeros((n_cont, LEVELS))
    for j, name in enumerate(names):
        fitted = None if name == "length" else fit_continuous(pre[:, j], real[:, j])
        if fitted is not None:
            lo[j], hi[j], cdf[j], q[j] = fitted
            report["columns"].append(name)
    gen.set_calibration(lo, hi, cdf, q)
    groups = t.feature_names[n_cont:]
    start = 0
    bias = np.zeros(pre.shape[1] - n_cont)
    shift = np.zeros((pre.shape[1] - n_cont - k, k))  # added to cond's column of each address category (size rows only)
    for w in t.heads:
        name = groups[start].split("=")[0]
        cols = slice(n_cont + start, n_cont + start + w)
        if name not in done and (name != "addr" or address):  # else fitted above, or the network's own mix
            logits = pre[:, cols]
            if classes is not None and name == "size":  # given the drawn action's class first, then the mix
                by_class = _class_bias(logits, real[:, cols], classes[action], classes[np.argmax(real[:, -k:], axis=1)])
                shift[start:start + w] = by_class[:, classes]
                logits = logits + by_class[:, classes[action]].T
            done[name] = _head(logits, real[:, cols], before=pre[:, cols])
            bias[start:start + w] = done[name][0]
        if name in done:
            report["heads"][name] = done[name][1]
        start += w
    with torch.no_grad():
        gen.fc.bias[n_cont:] += torch.as_tensor(bias, dtype=gen.fc.bias.dtype, device=gen.fc.bias.device)
        if classes is not None:
            gen.cond.weight[n_cont:] += torch.as_tensor(shift, dtype=gen.cond.weight.dtype, device=gen.cond.weight.device)
    return report


def _class_bias(logits: np.ndarray, real: np.ndarray, drawn: np.ndarray, real_drawn: np.ndarray) -> np.ndarray:
    """``(categories, 3)``: per address-action class, the head's bias that gives the training rows'
    frequencies among their rows of that class (``fit_head_bias`` on the rollout rows that drew it); 0
    for a class with fewer than ``MIN_CLASS_ROWS`` training-window rows or none drawn."""
    out = np.zeros((logits.shape[1], 3))
    for c in range(3):
        rows, ref = drawn == c, real_drawn == c
        if rows.any() and ref.sum() >= MIN_CLASS_ROWS:
            out[:, c] = fit_head_bias(logits[rows], real[ref].mean(axis=0))
    return out


def _head(logits: np.ndarray, real: np.ndarray, *, before: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, list[float]]]:
    """One head's bias and its record: the sampling frequencies ``before`` (default: ``logits``) and
    after, and the training's."""
    logits = logits.astype(np.float64)
    target = real.mean(axis=0)
    b = fit_head_bias(logits, target)
    return b, {"before": _softmax_mean(logits if before is None else before.astype(np.float64)).tolist(),
               "after": _softmax_mean(logits + b).tolist(),
               "target": (target / target.sum()).tolist()}


def _softmax_mean(x: np.ndarray) -> np.ndarray:
    """The mean over rows of ``softmax(x)``: each category's Gumbel-max sampling frequency."""
    p = np.exp(x - x.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).mean(axis=0)


def head_error(report: dict[str, Any], when: str) -> float:
    """Largest |frequency - training frequency| over the categories of every head, ``before`` or ``after``."""
    errs = [max(abs(a - b) for a, b in zip(h[when], h["target"])) for h in report["heads"].values()]
    return max(errs) if errs else 0.0
