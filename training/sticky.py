"""Sticky categories: a softmax head's noise kept from one row to the next.

A real trace's categorical fields come in runs — on MSR web0 a request has its predecessor's
opcode 90% of the time (50% if drawn independently from the same mix), its size 58% (26%) and
its address action 24% (6%) — but G draws each row's category by the Gumbel-max trick from
fresh noise, and its LSTM state, which moves slowly, does not know which category the previous
row drew. With ``sticky_heads`` a row keeps its predecessor's noise inputs for a head with that
head's probability ``q`` (all of the head's inputs, or none), else it takes fresh ones. Every
row's noise is still standard normal, so its category probabilities are exactly what G's logits
say (the mix, and calibration, are unchanged); where the logits hold, a kept noise draws the same
category again.

``q`` is fitted on the training rows: with a head's mix ``p`` drawn independently, a row repeats
its predecessor's category with probability ``sum(p^2)``; keeping the noise with probability
``q`` makes that ``q + (1 - q) sum(p^2)``, set equal to the training rows' rate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_KEEP", "keep_probability", "head_keep", "fill_kept"]

MAX_KEEP = 0.999  # runs of 1,000 rows on average at most


def keep_probability(categories: np.ndarray, k: int) -> float:
    """The noise-keeping probability that repeats the previous row's category as often as the
    rows ``categories`` (in time order, ``k`` categories) do, given their mix; 0 when they repeat
    no more than independent draws would."""
    if len(categories) < 2:
        return 0.0
    p = np.bincount(categories, minlength=k) / len(categories)
    chance = float(np.sum(p * p))
    same = float(np.mean(categories[1:] == categories[:-1]))
    if chance >= 1.0:
        return 0.0
    return round(float(np.clip((same - chance) / (1.0 - chance), 0.0, MAX_KEEP)), 6)


def head_keep(categories: list[np.ndarray], heads: tuple[int, ...]) -> tuple[float, ...]:
    """``keep_probability`` of each head (one category array per head)."""
    return tuple(keep_probability(cat, k) for cat, k in zip(categories, heads))


def fill_kept(noise: np.ndarray, keep: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """``noise`` ``(n, C)`` with each row where ``keep`` is true replaced by the row before it (the
    first by ``prev``, the last row of the stream's previous block), runs carried through: in place."""
    src = np.where(keep, -1, np.arange(len(noise)))
    np.maximum.accumulate(src, out=src)  # each row's latest fresh row (-1: none yet in this block)
    kept = np.flatnonzero(keep)
    at = src[kept]
    noise[kept[at >= 0]] = noise[at[at >= 0]]
    noise[kept[at < 0]] = prev
    return noise
