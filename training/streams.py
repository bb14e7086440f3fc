"""Sampling a trace GAN's rows block by block: the noise, a carried stream's noise, and the loop
shared by the torch and ONNX paths (``sample_blocks``).

Sampling is deterministic and chunk-independent: rows come in blocks of ``BLOCK_SEQUENCES``
sequences whose noise is drawn by NumPy from ``(seed, block index)`` (and the stream), so the first
n rows of a sample are the same whatever else is asked for, and the noise can be fed to an ONNX
export. ``training.synthesizer`` re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from training.config import TRACE_COLUMNS, TraceGANConfig, slow_decay
from training.errors import ModelError
from training.levels import ar1
from training.phases import decay, mix_slow
from training.sticky import fill_kept
from training.transform import TraceTransformer

__all__ = ["BLOCK_SEQUENCES", "block_noise", "StreamNoise", "sticky_groups", "phase_groups", "sample_blocks", "noise_dim"]

BLOCK_SEQUENCES = 1024


def noise_dim(config: TraceGANConfig, transformer: TraceTransformer) -> int:
    """Noise inputs per time step: the latent ones, and one per category of each softmax head."""
    return config.latent_dim + sum(transformer.heads)


def block_noise(config: TraceGANConfig, seed: int, block: int, dim: int | None = None, *,
                stream: int | None = None) -> np.ndarray:
    """The noise of block ``block``: ``(BLOCK_SEQUENCES, seq_len, dim)`` float32 from (seed, block),
    or from (seed, stream, block) for a carried-state model's ``stream``; ``dim`` defaults to
    ``latent_dim`` (a model without softmax heads)."""
    rng = np.random.default_rng([seed, block] if stream is None else [seed, stream, block])
    return rng.standard_normal((BLOCK_SEQUENCES, config.seq_len, dim or config.latent_dim), dtype=np.float32)


def _head_starts(config: TraceGANConfig, transformer: TraceTransformer) -> np.ndarray:
    """The first noise input of each softmax head (the heads' inputs follow the latent ones)."""
    return config.latent_dim + np.cumsum((0,) + tuple(transformer.heads[:-1]))


def sticky_groups(config: TraceGANConfig, transformer: TraceTransformer) -> tuple[tuple[int, int, float], ...]:
    """``sticky_heads``: ``(first noise input, width, keep probability)`` of each softmax head whose
    noise a row may keep from the row before (``training.sticky``), for a carried-state model."""
    if not (config.sticky_heads and config.carry_state):
        return ()
    starts = _head_starts(config, transformer)
    return tuple((int(a), int(w), float(q)) for a, w, q in zip(starts, transformer.heads, transformer.sticky_) if q > 0)


def phase_groups(config: TraceGANConfig, transformer: TraceTransformer) -> tuple[tuple[int, int, float, float, float], ...]:
    """``(first noise input, width, rho, tau, keep)`` of each softmax head whose noise a carried
    stream makes slow and keeps as its read/write phases say (``training.phases``, fitted after
    training: ``transformer.phases_``); such a head's sticky keep is this one."""
    phases = getattr(transformer, "phases_", None)
    if not (phases and config.phases and config.carry_state):
        return ()
    starts = _head_starts(config, transformer)
    return tuple((int(a), int(w), *(float(phases[n][k]) for k in ("rho", "tau", "keep")))
                 for a, w, n in zip(starts, transformer.heads, transformer.head_names) if n in phases)


class StreamNoise:
    """A carried stream's noise, drawn block by block in order: ``block_noise`` with the last
    ``config.slow_inputs`` latent inputs made slow (``x_t = a x_{t-1} + sqrt(1 - a^2) e_t``, unit
    variance, continued from one block to the next), each ``phases`` head's noise inputs given a slow
    share and kept from the row before with its phases' probability (``phase_groups``,
    ``training.phases``), and each other ``sticky`` head's noise inputs kept from the row before with
    its probability (``sticky_groups``), all continued across blocks."""

    def __init__(self, config: TraceGANConfig, seed: int, stream: int, dim: int,
                 sticky: tuple[tuple[int, int, float], ...] = (),
                 phases: tuple[tuple[int, int, float, float, float], ...] = ()) -> None:
        self.config, self.seed, self.stream, self.dim, self.sticky = config, seed, stream, dim, sticky
        self.slow = config.slow_inputs
        self.prev = np.random.default_rng([seed, stream, 0, 2]).standard_normal(self.slow) if self.slow else None
        start = np.random.default_rng([seed, stream, 0, 3])
        self.kept = [start.standard_normal(w).astype(np.float32) for _, w, _ in sticky]
        self.phases, self.phased = phases, {a for a, *_ in phases}
        start = np.random.default_rng([seed, stream, 0, 7])
        self.phase_prev = [start.standard_normal(w) for _, w, *_ in phases]  # each phased head's slow part, last row
        self.phase_kept = [start.standard_normal(w).astype(np.float32) for _, w, *_ in phases]  # its noise, last row

    def __call__(self, block: int) -> np.ndarray:
        """``(1, BLOCK_SEQUENCES * seq_len, dim)`` float32; call with blocks 0, 1, 2, ... in turn."""
        c = self.config
        noise = block_noise(c, self.seed, block, self.dim, stream=self.stream).reshape(1, -1, self.dim)
        for i in range(self.slow):
            j = c.latent_dim - self.slow + i
            col = ar1(noise[0, :, j].astype(np.float64), self.prev[i], slow_decay(i))
            noise[0, :, j] = col
            self.prev[i] = col[-1]
        if self.phases:
            rng = np.random.default_rng([self.seed, self.stream, block, 6])
            drive = rng.standard_normal((noise.shape[1], sum(w for _, w, *_ in self.phases)))
            keep = rng.random((noise.shape[1], len(self.phases)))
            at = 0
            for h, (a, w, rho, tau, q) in enumerate(self.phases):
                part = noise[0, :, a:a + w]
                if rho > 0:
                    self.phase_prev[h] = mix_slow(part, self.phase_prev[h], drive[:, at:at + w], rho, decay(tau))
                if q > 0:
                    fill_kept(part, keep[:, h] < q, self.phase_kept[h])
                self.phase_kept[h] = part[-1].copy()
                at += w
        if self.sticky:  # a phased head's keep uniforms are drawn and not used: the other heads' stay as they were
            keep = np.random.default_rng([self.seed, self.stream, block, 3]).random((noise.shape[1], len(self.sticky)))
            for h, (a, w, q) in enumerate(self.sticky):
                if a in self.phased:
                    continue
                fill_kept(noise[0, :, a:a + w], keep[:, h] < q, self.kept[h])
                self.kept[h] = noise[0, -1, a:a + w].copy()
        return noise


def sample_blocks(decode: Callable, transformer: TraceTransformer, config: TraceGANConfig, n_rows: int, *,
                  seed: int = 0, first_block: int = 0, stream: int = 0, t_start: float = 0.0,
                  threads: int = 1) -> Iterator[np.ndarray]:
    """Rows ``first_block * rows_per_block`` onward, ``n_rows`` of them, one block per chunk.

    Shared by the torch path and the ONNX path: ``decode`` maps noise to ``inverse_features``
    rows (a model from before typed features gives 4 columns; the opcode column is added as NaN),
    and the stateful steps (``transformer.start_stream``: the running time, the LRU stack of
    addresses, fed a uniform per row drawn here from (seed, stream, block)) happen here, in block
    order, so both give the same rows.

    A ``carry_state`` model draws one stream per ``stream`` index: each block's noise is one
    sequence of ``BLOCK_SEQUENCES * seq_len`` steps, and ``decode(noise, state)`` returns the rows
    and the LSTM state the next block starts from, so n rows are one recurrent run whatever the
    blocks (``first_block`` must be 0); its first ``config.burn_in`` rows (from the zero state)
    are run through the stateful steps and dropped (``Stream.warm_up``: the LRU stack keeps their
    pages, the clock starts at the first row kept). Otherwise a block is ``BLOCK_SEQUENCES`` independent
    windows, and any block range can be drawn on its own (sharding one stream).

    With ``threads > 1`` the network runs in background threads a few blocks ahead, the order kept
    (one thread for a carried stream, whose blocks are sequential, with the noise drawn in another
    thread ahead of it: a fifth of the stream's time on 2 cores); onnxruntime, torch and NumPy's
    generators release the GIL, so the caller's own work on the previous block (encoding, writing)
    overlaps with them.
    """
    per_block = BLOCK_SEQUENCES * config.seq_len
    carry = config.carry_state
    drop = config.burn_in if carry and n_rows > 0 else 0  # the stream's burn-in rows
    blocks = range(first_block, first_block + -(-(n_rows + drop) // per_block))
    dim = noise_dim(config, transformer)
    if carry and first_block:
        raise ModelError("a carried-state stream is drawn from its first block; pass stream=, not first_block=")
    state = [None]
    stream_noise = StreamNoise(config, seed, stream, dim, sticky_groups(config, transformer),
                               phase_groups(config, transformer)) if carry else None
    uniform = transformer.locality != "none"  # where in its bucket each address falls: the same for torch and ONNX

    def draw(block: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A block's random numbers: its noise, and a uniform per row for the address decoder."""
        if carry:
            noise = stream_noise(block)
        else:
            noise = block_noise(config, seed, block, dim)
        return noise, np.random.default_rng([seed, stream, block, 1]).random(per_block) if uniform else None

    def run(drawn: tuple[np.ndarray, np.ndarray | None]) -> np.ndarray:
        noise, u = drawn
        if carry:
            rows, state[0] = decode(noise, state[0])
        else:
            rows = decode(noise)
        if rows.shape[1] == len(TRACE_COLUMNS):
            return np.column_stack([rows, np.full(len(rows), np.nan)])
        return np.column_stack([rows, u[:len(rows)]]) if u is not None else rows

    if threads <= 1:
        decoded = (run(draw(b)) for b in blocks)
    elif carry:
        decoded = _stream_ahead(draw, run, blocks)
    else:
        decoded = _decode_ahead(lambda b: run(draw(b)), blocks, threads)
    finish = transformer.start_stream(t_start, seed=seed, stream=stream)
    remaining = n_rows
    for rows in decoded:
        if drop:
            finish.warm_up(rows[:drop])
            rows, drop = rows[drop:], max(0, drop - len(rows))
            if not len(rows):
                continue
        rows = finish(rows[:remaining])
        remaining -= len(rows)
        yield rows


def _decode_ahead(run: Callable[[int], np.ndarray], blocks: range, threads: int) -> Iterator[np.ndarray]:
    """``map(run, blocks)`` on a thread pool, at most ``2 * threads`` blocks ahead, in order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads, thread_name_prefix="ganflow-decode") as pool:
        pending: deque = deque()
        for block in blocks:
            pending.append(pool.submit(run, block))
            if len(pending) > 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _stream_ahead(draw: Callable, run: Callable, blocks: range) -> Iterator[np.ndarray]:
    """One carried stream: ``run(draw(b))`` for each block in order, ``draw`` (the random numbers)
    in one thread and ``run`` (the network, whose state goes from block to block) in another — one
    thread each, so the blocks stay in order — at most 2 blocks ahead of the caller."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="ganflow-noise") as noise, \
            ThreadPoolExecutor(1, thread_name_prefix="ganflow-decode") as net:
        pending: deque = deque()
        for block in blocks:
            drawn = noise.submit(draw, block)
            pending.append(net.submit(lambda d=drawn: run(d.result())))
            if len(pending) > 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
