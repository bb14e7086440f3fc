"""Synthesizer: config + fitted transformer + generator, fitted, sampled, saved and loaded as one.

A generator is meaningless without the scaling that gives its output units, so the two are never
stored apart (CTGAN's rule). Saved layout of a directory::

    config.json       TraceGANConfig
    transformer.json  TraceTransformer or TypedTransformer (its mode says which)
    generator.pt      generator state_dict, loaded with torch.load(weights_only=True)
    meta.json         format version, loss history, rows used

Sampling (the noise, carried streams, the block loop shared with ONNX) is ``training.streams``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.config import ROW_COLUMNS, TraceGANConfig
from training.errors import ModelError
from training.readers import TraceFrame
from training.sequences import make_windows, time_split
from training.streams import (  # the sampling stage, re-exported: callers import these from here
    BLOCK_SEQUENCES,
    StreamNoise,
    block_noise,
    noise_dim,
    phase_groups,
    sample_blocks,
    sticky_groups,
)
from training.transform import TraceTransformer

__all__ = ["Synthesizer", "PreparedData", "BLOCK_SEQUENCES", "block_noise", "StreamNoise", "sticky_groups", "phase_groups",
           "sample_blocks", "noise_dim", "make_transformer"]

log = logging.getLogger(__name__)
_FORMAT_VERSION = 1


def make_transformer(config: TraceGANConfig) -> TraceTransformer:
    """The fresh (unfitted) transformer ``config.feature_mode`` names."""
    if config.feature_mode == "typed":
        from training.encodings import TypedTransformer

        return TypedTransformer(continuous=config.continuous, size_coverage=config.size_coverage,
                                locality=config.locality, reuse_buckets=config.reuse_buckets)
    return TraceTransformer(mode=config.feature_mode, log1p=config.log1p)


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
