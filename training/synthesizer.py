"""Synthesizer: config + fitted transformer + generator, fitted, sampled, saved and loaded as one.

A generator is meaningless without the scaling that gives its output units, so the two are never
stored apart (CTGAN's rule). Saved layout of a directory::

    config.json       TraceGANConfig
    transformer.json  TraceTransformer or TypedTransformer (its mode says which)
    generator.pt      generator state_dict, loaded with torch.load(weights_only=True)
    meta.json         format version, loss history, rows used

Sampling is deterministic and chunk-independent: rows come in blocks of ``BLOCK_SEQUENCES``
sequences whose noise is drawn by NumPy from ``(seed, block index)``, so the first n rows of a
sample are the same whatever else is asked for, and the noise can be fed to an ONNX export.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.config import ROW_COLUMNS, TRACE_COLUMNS, TraceGANConfig, slow_decay
from training.errors import ModelError
from training.levels import ar1
from training.phases import decay, mix_slow
from training.readers import TraceFrame
from training.sequences import make_windows, time_split
from training.sticky import fill_kept
from training.transform import TraceTransformer

__all__ = ["Synthesizer", "PreparedData", "BLOCK_SEQUENCES", "block_noise", "StreamNoise", "sticky_groups", "phase_groups",
           "sample_blocks", "noise_dim", "make_transformer"]

log = logging.getLogger(__name__)
BLOCK_SEQUENCES = 1024
_FORMAT_VERSION = 1


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


def sticky_groups(config: TraceGANConfig, transformer: TraceTransformer) -> tuple[tuple[int, int, float], ...]:
    """``sticky_heads``: ``(first noise input, width, keep probability)`` of each softmax head whose
    noise a row may keep from the row before (``training.sticky``), for a carried-state model."""
    if not (config.sticky_heads and config.carry_state):
        return ()
    starts = config.latent_dim + np.cumsum((0,) + tuple(transformer.heads[:-1]))
    return tuple((int(a), int(w), float(q)) for a, w, q in zip(starts, transformer.heads, transformer.sticky_) if q > 0)


def phase_groups(config: TraceGANConfig, transformer: TraceTransformer) -> tuple[tuple[int, int, float, float, float], ...]:
    """``(first noise input, width, rho, tau, keep)`` of each softmax head whose noise a carried
    stream makes slow and keeps as its read/write phases say (``training.phases``, fitted after
    training: ``transformer.phases_``); such a head's sticky keep is this one."""
    phases = getattr(transformer, "phases_", None)
    if not (phases and config.phases and config.carry_state):
        return ()
    starts = config.latent_dim + np.cumsum((0,) + tuple(transformer.heads[:-1]))
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


def make_transformer(config: TraceGANConfig) -> TraceTransformer:
    """The fresh (unfitted) transformer ``config.feature_mode`` names."""
    if config.feature_mode == "typed":
        from training.encodings import TypedTransformer

        return TypedTransformer(continuous=config.continuous, size_coverage=config.size_coverage,
                                locality=config.locality, reuse_buckets=config.reuse_buckets)
    return TraceTransformer(mode=config.feature_mode, log1p=config.log1p)


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


@dataclass
class PreparedData:
    """The scaled training windows and the raw rows held out for validation."""

    train_windows: np.ndarray  # (m, seq_len, F) float32
    train_rows: int
    validation: TraceFrame | None


class Synthesizer:
    """The trace GAN as one object: ``fit``, ``sample``, ``save``, ``load``."""

    engine = "torch"

    def __init__(self, config: TraceGANConfig | None = None, *, device: str = "cpu") -> None:
        self.config = config or TraceGANConfig()
        self.device = device
        self.transformer: TraceTransformer | None = None
        self.generator = None
        self.history: list[dict[str, float]] = []
        self.meta: dict = {}
        self.best = None  # training.trainer.BestGenerator while fitting with keep_best
        self._fitting: PreparedData | None = None  # the data being fitted on, while fit runs
        self._scored: Synthesizer | None = None  # this epoch's epoch_model() copy, while fit runs
        self._kept_calibration: dict | None = None  # the kept epoch's calibration record, if kept calibrated

    @property
    def columns(self) -> tuple[str, ...]:
        """The row columns this model generates (``ROW_COLUMNS`` minus those it lacks)."""
        self._require_fitted()
        return self.transformer.columns

    def observe(self, epoch: int, value: float) -> None:
        """Tell the synthesizer the validation score of its generator after ``epoch`` (lower is
        better); with ``keep_best`` the best epoch's weights are the ones ``fit`` leaves. Score
        ``epoch_model()``, the model ``fit`` would leave, not ``self``: a calibrated copy scored this
        epoch is kept as it is, so ``fit`` does not calibrate the kept generator again."""
        if self.best is not None and self.best.update(epoch, value, (self._scored or self).generator):
            self._kept_calibration = self._scored.meta["calibration"] if self._scored is not None else None

    def epoch_model(self) -> Synthesizer:
        """The model an epoch's validation scores: while ``fit`` runs with ``config.select_calibrated``
        and calibration (``config.calibrate``, a typed model), a calibrated copy of the current
        generator, the model ``fit`` would save if it stopped now, so the best epoch is chosen among
        the models as they are saved (on the bundled sample the scores before and after calibration
        are uncorrelated across epochs); else this synthesizer."""
        c = self.config
        if self._fitting is None or not (c.select_calibrated and c.calibrate and self.transformer.heads):
            return self
        # slow levels (config.levels) are fitted once, on the kept epoch: each epoch is scored on its generator
        self._scored = self.calibrated_copy(self._fitting, announce=False, levels=False)
        return self._scored

    def prepare(self, frame: TraceFrame) -> PreparedData:
        """Split in time order, fit the transformer on the training part, cut windows."""
        c = self.config
        cut = time_split(len(frame), c.val_fraction)
        train = frame.slice(0, cut)
        self.transformer = make_transformer(c)
        windows = make_windows(self.transformer.fit_transform(train), c.seq_len, c.window_stride,
                               what=f"{frame.source or 'trace'} (training part)")
        validation = frame.slice(cut, len(frame)) if cut < len(frame) else None
        return PreparedData(np.ascontiguousarray(windows), cut, validation)

    def fit(self, frame: TraceFrame, *, on_epoch_end: Callable | None = None,
            checkpoint_dir: str | Path | None = None, checkpoint_every: int = 0,
            on_checkpoint: Callable[[Path], None] | None = None,
            on_prepared: Callable[[PreparedData], None] | None = None,
            resume_from: str | Path | None = None) -> PreparedData:
        """Train on ``frame``; returns the prepared data (the validation rows among it).

        Args:
            on_epoch_end: called with each epoch's ``EpochStats``.
            checkpoint_dir: where ``checkpoint_epoch_N.pt`` files go every ``checkpoint_every``
                epochs and after the last one; ``on_checkpoint`` is told each path.
            on_prepared: told the prepared data (the validation rows) before the first epoch.
            resume_from: a checkpoint to continue from (weights, optimizers, random stream).

        During training ``self.generator`` is the live generator, so callbacks can ``sample``;
        sampling draws its own NumPy noise and never touches the training random stream.
        """
        import torch

        from training.checkpoints import CheckpointCadence
        from training.trainer import BestGenerator, GANTrainer, StopTraining

        data = self._fitting = self.prepare(frame)
        trainer = GANTrainer(self.config, data.train_windows.shape[2], heads=self.transformer.heads,
                             noise_skip=self._noise_skip(), sticky=sticky_groups(self.config, self.transformer),
                             device=self.device)
        self.best = BestGenerator() if self.config.keep_best else None
        if resume_from is not None:
            trainer.load_checkpoint(resume_from)
            log.info("resumed from %s at epoch %d", resume_from, trainer.epoch)
        self.generator = trainer.sampler
        if on_prepared is not None:
            on_prepared(data)

        cadence = CheckpointCadence(checkpoint_dir, checkpoint_every, self.config.num_epochs, on_checkpoint)

        def epoch_end(stats) -> None:
            self._scored = None  # a copy from an earlier epoch is not this epoch's generator
            if cadence.due(stats.epoch):
                cadence.save(trainer, stats.epoch)
            if on_epoch_end is not None:
                try:
                    on_epoch_end(stats)
                except StopTraining:
                    if checkpoint_dir is not None and not cadence.due(stats.epoch):
                        cadence.save(trainer, stats.epoch)  # an early stop keeps its last state too
                    raise

        try:
            trainer.fit(torch.from_numpy(data.train_windows), on_epoch_end=epoch_end)
        finally:
            self._fitting = self._scored = None
        self.generator = trainer.sampler.eval()
        self.history = [s.to_dict() for s in trainer.history]
        self.meta = {"train_rows": data.train_rows, "train_windows": len(data.train_windows),
                     "validation_rows": len(data.validation) if data.validation is not None else 0,
                     "source": frame.source, "epoch": trainer.epoch}
        best, calibration, self.best, self._kept_calibration = self.best, self._kept_calibration, None, None
        if best is not None and best.state is not None:
            self.meta.update(epoch=best.epoch, best_val=best.value)
            log.info("kept the generator of epoch %d (val %.6g)", best.epoch, best.value)
            if calibration is not None:  # kept as it was scored, calibrated (epoch_model)
                self.generator = self._generator(best.state)
                self.meta["calibration"] = calibration
                log.info("kept it as scored, calibrated (largest category error %.4f -> %.4f)",
                         calibration["head_error_before"], calibration["head_error_after"])
                self.fit_levels(data)
                self.fit_phases(data)
                return data
            best.restore(self.generator)
        if self.config.calibrate and self.transformer.heads:
            self.calibrate(data)
        return data

    def calibrated_copy(self, data: PreparedData, *, announce: bool = True, levels: bool = True) -> Synthesizer:
        """A copy of this synthesizer with its generator calibrated (``calibrate``, with ``levels`` its slow
        levels fitted too); this one is untouched."""
        import copy

        self._require_fitted()
        other = copy.copy(self)
        other.generator, other.meta = self._generator(self.generator.state_dict()), dict(self.meta)
        other.calibrate(data, announce=announce, levels=levels)
        return other

    def _noise_skip(self) -> tuple[bool, ...]:
        """``config.noise_skip``: the continuous columns the row noise reaches directly, all but the
        inter-arrival time (whose arrangement over rows, the trace's burstiness, stays with G's state)."""
        if not (self.config.noise_skip and self.transformer.heads):
            return ()
        return tuple(name != "interarrival" for name in self.transformer.continuous_names)

    def _generator(self, weights: dict):
        """A generator for this config and transformer holding ``weights`` (calibration buffers included), in eval mode."""
        from training.models import LSTMGenerator

        c = self.config
        gen = LSTMGenerator(c.latent_dim, c.hidden_dim, len(self.transformer.feature_names), num_layers=c.num_layers,
                            heads=self.transformer.heads, address_first="cond.weight" in weights,
                            noise_skip=tuple(bool(x) for x in weights.get("skip_mask", ())))
        if "cal_cdf" in weights:  # a calibrated generator (training.calibration)
            gen.set_calibration(*(weights[k] for k in ("cal_lo", "cal_hi", "cal_cdf", "cal_q")))
        gen.load_state_dict(weights)
        return gen.to(self.device).eval()

    def calibrate(self, data: PreparedData, *, announce: bool = True, levels: bool = True) -> dict:
        """Match the generator's marginals to the training windows' (``training.calibration``);
        the record of what changed goes to ``meta["calibration"]`` and is returned (and logged, if
        ``announce``); then, with ``levels``, ``fit_levels``."""
        from training.calibration import calibrate, head_error

        self._require_fitted()
        report = calibrate(self, data.train_windows)
        self.meta["calibration"] = {"rows": report["rows"], "columns": report["columns"], "heads": list(report["heads"]),
                                    "head_error_before": round(head_error(report, "before"), 6),
                                    "head_error_after": round(head_error(report, "after"), 6)}
        (log.info if announce else log.debug)("calibrated %s and %d heads (largest category error %.4f -> %.4f)",
                 ", ".join(report["columns"]) or "no column", len(report["heads"]),
                 self.meta["calibration"]["head_error_before"], self.meta["calibration"]["head_error_after"])
        if levels:
            self.fit_levels(data, announce=announce)
            self.fit_phases(data, announce=announce)
        return report

    def fit_levels(self, data: PreparedData, *, announce: bool = True) -> None:
        """With ``config.levels`` (a typed carry_state model): fit the slow levels of the inter-arrival
        time and latency on a rollout of the generator as it is (``training.levels``); the transformer
        is replaced by a copy that applies them, and ``meta["levels"]`` records the fit."""
        from training import levels
        from training.calibration import rollout

        c = self.config
        if not (c.levels and c.carry_state and self.transformer.heads):
            return
        t = self.transformer
        fitted = levels.fit(rollout(self), levels.trace_rows(data.train_windows, c.window_stride), t.continuous_names,
                            lambda name, y: t.encoders[name].inverse(y), c.seq_len)
        self.transformer = t.with_levels({k: {"weights": v["weights"], "taus": v["taus"], "knots": v["knots"]}
                                          for k, v in fitted.items()})
        self.meta["levels"] = {k: {"weights": v["weights"], "taus": v["taus"], **v["stats"]} for k, v in fitted.items()}
        (log.info if announce else log.debug)("slow levels: %s", "; ".join(
            f"{k} " + (", ".join(f"{w:g} over {tau:,} rows" for w, tau in zip(v["weights"], v["taus"]) if w) or "none")
            for k, v in fitted.items()))

    def fit_phases(self, data: PreparedData, *, announce: bool = True) -> None:
        """With ``config.phases`` (a typed carry_state model with an opcode): fit the opcode head's
        phases on a rollout of the generator as it is (``training.phases``); the transformer is replaced
        by a copy whose streams apply them, and ``meta["phases"]`` records the fit."""
        from training import levels, phases
        from training.calibration import rollout

        c, t = self.config, self.transformer
        if not (c.phases and c.carry_state and t.heads and "op" in getattr(t, "head_names", ())):
            return
        h = t.head_names.index("op")
        a = len(t.continuous_names) + sum(t.heads[:h])
        w = t.heads[h]
        rows = levels.trace_rows(data.train_windows, c.window_stride)
        target = phases.spread_stats(np.argmax(rows[:, a:a + w], axis=1)[None], w)
        fitted = phases.fit(rollout(self)[..., a:a + w].astype(np.float64), target,
                            phases.KEEPS if c.sticky_heads else (0.0,))
        self.transformer = t.with_phases({"op": {k: fitted[k] for k in ("rho", "tau", "keep")}})
        self.meta["phases"] = fitted
        widths = " / ".join(f"{x:,}" for x in phases.WIDTHS)
        (log.info if announce else log.debug)(
            "read/write phases: slow share %g over %s rows, keep %g (repeat %.3f, read-fraction spread %s over %s "
            "rows; training %.3f, %s)", fitted["rho"], f"{fitted['tau']:,}", fitted["keep"], fitted["stats"][0],
            " / ".join(f"{x:.2f}" for x in fitted["stats"][1:]), widths, fitted["target"][0],
            " / ".join(f"{x:.2f}" for x in fitted["target"][1:]))

    def _require_fitted(self) -> None:
        if self.generator is None or self.transformer is None:
            raise ModelError("Synthesizer is not fitted; call fit() or load()")

    def decode(self, noise: np.ndarray, state=None):
        """Noise -> ``(n_seq * seq_len, …)`` rows of ``transformer.inverse_features`` (before the
        stream's stateful steps); a ``carry_state`` model continues from the LSTM ``state`` and
        returns ``(rows, new state)``."""
        import torch

        self._require_fitted()
        with torch.inference_mode():
            z = torch.from_numpy(noise).to(self.device)
            y, new = self.generator(z, state, return_state=True)
            y = y.float().cpu().numpy()
        rows = self.transformer.inverse_features(y.reshape(-1, y.shape[-1]))
        return (rows, new) if self.config.carry_state else rows

    def sample_chunks(self, n_rows: int, *, seed: int = 0, first_block: int = 0, stream: int = 0,
                      t_start: float = 0.0, threads: int = 1) -> Iterator[np.ndarray]:
        """Yield ``n_rows`` rows (float64, real units, ``ROW_COLUMNS``) one block at a time, in
        constant memory (``sample_blocks`` says what ``stream`` and ``first_block`` select)."""
        self._require_fitted()
        return sample_blocks(self.decode, self.transformer, self.config, n_rows, seed=seed,
                             first_block=first_block, stream=stream, t_start=t_start, threads=threads)

    def sample(self, n_rows: int, *, seed: int = 0, stream: int = 0) -> np.ndarray:
        """``(n_rows, 5)`` synthetic rows: timestamp, length, LBA, latency, opcode (float64; NaN in a
        column the model lacks: see ``columns``)."""
        chunks = list(self.sample_chunks(n_rows, seed=seed, stream=stream))
        return np.concatenate(chunks) if chunks else np.empty((0, len(ROW_COLUMNS)))

    def save(self, directory: str | Path) -> Path:
        """Write the four files of the saved layout into ``directory`` (created if needed)."""
        import torch

        self._require_fitted()
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2))
        self.transformer.save(d / "transformer.json")
        torch.save(self.generator.state_dict(), d / "generator.pt")
        meta = {"format_version": _FORMAT_VERSION, "history": self.history, **self.meta}
        (d / "meta.json").write_text(json.dumps(meta, indent=2))
        return d

    @classmethod
    def load(cls, directory: str | Path, *, device: str = "cpu") -> Synthesizer:
        """Inverse of ``save``; weights are loaded with ``weights_only=True``."""
        from training.utils import load_tensors

        d = Path(directory)
        missing = [n for n in ("config.json", "transformer.json", "generator.pt", "meta.json") if not (d / n).is_file()]
        if missing:
            raise ModelError(f"{d}: not a saved trace-GAN synthesizer (missing {', '.join(missing)})")
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ModelError(f"{d}: synthesizer format_version {meta.get('format_version')!r} is not {_FORMAT_VERSION}")
        obj = cls(TraceGANConfig.from_dict(json.loads((d / "config.json").read_text())), device=device)
        obj.transformer = TraceTransformer.load(d / "transformer.json")
        obj.generator = obj._generator(load_tensors(d / "generator.pt", device=device))
        obj.history = meta.pop("history", [])
        obj.meta = meta
        return obj
