"""The tracked training job: read -> fit -> validate -> log everything to one MLflow run -> register.

``train`` is what ``ganflow train`` and the MLproject ``train`` entry point run (and what each
tuning trial runs). Input problems are found before the run starts; anything later ends the
run FAILED with the reason as a tag, never RUNNING.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.data import check_enough_rows, load_frame
from training.errors import TrackingError
from training.readers import TraceFrame
from training.resume import RUN_CONFIG, check_same_data, checkpoint_epoch, resume_point, resume_spec, run_config
from training.run_info import (
    SAMPLE_SOURCE,
    log_trace_datasets,
    result_summary,
    training_description,
    training_run_name,
)
from training.sequences import time_split
from training.synthesizer import Synthesizer
from training.tracking import (
    describe_model,
    fail_if_unreachable,
    flatten_params,
    lineage_tags,
    log_new_params,
    register_model,
    tracked_run,
)
from training.utils import last_value, resolve_device, seed_everything

__all__ = ["TrainResult", "EvalCallback", "train", "resume_spec"]

log = logging.getLogger(__name__)

MODEL_DESCRIPTION = ("Trace GAN generators of synthetic block I/O traces (timestamp, size, LBA; latency and opcode "
                     "when the training trace has them), "
                     "trained and registered by ganflow; each version's description names its run, data and "
                     "validation results. Sample with: ganflow generate --model models:/NAME@champion.")

# Called after each validation with (epoch, val_mmd2, loss health); may raise to stop (pruning).
EvalCallback = Callable[[int, float, str], None]


@dataclass
class TrainResult:
    run_id: str
    model_uri: str
    synthesizer: Synthesizer
    local_dir: Path
    registered_version: str | None = None
    alias: str | None = None
    data_info: dict = field(default_factory=dict)
    val_mmd2: dict[int, float] = field(default_factory=dict)
    fidelity: dict = field(default_factory=dict)
    description: str = ""
    calibrated: dict[str, float] = field(default_factory=dict)  # val_mmd2 / val_fields after calibration


    @property
    def model_epoch(self) -> int:
        """The epoch whose generator was logged (with ``keep_best``, the best validated one)."""
        history = self.synthesizer.history
        return int(self.synthesizer.meta.get("epoch", history[-1]["epoch"] if history else 0))

    @property
    def model_val_mmd2(self) -> float | None:
        """The logged generator's val_mmd2 (None when it was not validated at ``model_epoch``)."""
        return self.val_mmd2.get(self.model_epoch)

    @property
    def scored_as_saved(self) -> bool:
        """Whether the epochs' scores are the calibrated models' (``Synthesizer.epoch_model``), so
        ``model_val_mmd2`` is already the saved generator's."""
        return bool(self.calibrated) and self.synthesizer.config.select_calibrated

    @property
    def final_val_mmd2(self) -> float | None:
        """The value a run is judged by — the logged generator's: after calibration its calibrated
        val_mmd2, else ``model_val_mmd2``, else the last validated epoch's (None without validation)."""
        if "val_mmd2" in self.calibrated:
            return self.calibrated["val_mmd2"]
        kept = self.model_val_mmd2
        return kept if kept is not None else last_value(self.val_mmd2)


class _EpochLogger:
    """Per-epoch metrics, and val_mmd2 every ``eval_every`` epochs (and after the last)."""

    def __init__(self, synth: Synthesizer, options: RunOptions, callbacks: Sequence[EvalCallback]) -> None:
        from training import progress

        self.synth, self.options, self.callbacks = synth, options, callbacks
        self.bar = progress.bar(synth.config.num_epochs, "epochs", unit="epoch")
        self.validator = None
        self.val: dict[int, float] = {}
        self.scores: dict[int, dict[str, float]] = {}  # each validated epoch's Validator.scores
        self.losses: list[dict] = []
        self.health = "healthy"

    def _check_health(self, stats) -> None:
        from training.diagnostics import COLLAPSES, diagnose
        from training.trainer import StopTraining

        self.losses.append(stats.to_dict())
        # the thresholds are BCE's (ln 4, ln 2); a Wasserstein critic's losses have no such scale
        health = diagnose(self.losses) if self.synth.config.loss == "bce" else "not judged (wgan-gp)"
        if health != self.health:
            mlflow.set_tag("loss_health", health)
            if health in (*COLLAPSES, "stuck"):
                log.warning("epoch %d: loss health %s (d_loss %.4f, g_loss %.4f); see docs/ARCHITECTURE.md",
                            stats.epoch, health, stats.d_loss, stats.g_loss)
            self.health = health
        if health in COLLAPSES and self.options.stop_on_collapse:
            mlflow.set_tag("stopped_early", f"{health} at epoch {stats.epoch}")
            raise StopTraining(f"loss health {health}")

    def _postfix(self, stats) -> None:
        val = f", val_mmd2 {last_value(self.val):.4g}" if self.val else ""
        self.bar.set_postfix_str(f"d_loss {stats.d_loss:.4f}, g_loss {stats.g_loss:.4f}{val}")

    def __call__(self, stats) -> None:
        mlflow.log_metrics({"d_loss": stats.d_loss, "g_loss": stats.g_loss, "epoch_seconds": stats.seconds},
                           step=stats.epoch)
        self._check_health(stats)
        self.bar.update(1)
        every, last = self.options.eval_every, stats.epoch == self.synth.config.num_epochs
        if self.validator is None or not (last or (every and stats.epoch % every == 0)):
            self._postfix(stats)
            return
        from training.fidelity import select_value

        # calibrated, if the saved model will be; with keep_best's weights, also what val_fields does not see
        scores = self.validator.scores(self.synth.epoch_model(), self.synth.config.select_weights)
        value = scores["val_mmd2"]
        self.val[stats.epoch], self.scores[stats.epoch] = value, scores
        self.synth.observe(stats.epoch, select_value(scores))
        self._postfix(stats)
        mlflow.log_metrics(scores, step=stats.epoch)
        log.info("epoch %d  val_mmd2 %.6g  val_fields %.4g", stats.epoch, value, scores["val_fields"])
        for callback in self.callbacks:
            callback(stats.epoch, value, self.health)


def _log_fidelity(synth: Synthesizer, validator, options: RunOptions, val: dict[int, float],
                  training: TraceFrame) -> dict:
    """The storage scorecard of a synthetic rollout as long as the validation rows, against them
    (copies looked for in the training rows), row-wise detail with floors, and the plots."""
    from training.fidelity import eval_rows, evaluate
    from training.scorecard import TraceData, headline_metrics, scorecard

    full = validator.synthetic(synth)
    card = scorecard(TraceData.from_frame(validator.frame), TraceData.from_matrix(full),
                     reference=TraceData.from_frame(training))
    synthetic = eval_rows(full)
    rows = evaluate(validator.real, synthetic, sample=options.eval_sample, bandwidth=options.bandwidth, sequence=False)
    mlflow.log_metrics(headline_metrics(card))
    mlflow.set_tag("scorecard", card["verdict"])
    report = {"scorecard": card, "rows": rows}
    mlflow.log_dict(report, "fidelity.json")
    if options.plots:
        from training import plots

        plots.log_figures({
            "losses": plots.plot_losses(synth.history, val), "cdf": plots.plot_cdfs(validator.real, synthetic),
            "acf": plots.plot_acf(validator.real[:options.eval_sample], synthetic[:options.eval_sample]),
            "miss_ratio_curves": plots.plot_miss_ratio_curves(card), "iops": plots.plot_iops(card),
            "sizes": plots.plot_sizes(validator.real[:, 1], synthetic[:, 1])})
    return report


def train(data: DataConfig, config: TraceGANConfig, options: RunOptions | None = None, *,
          callbacks: Sequence[EvalCallback] = (), nested: bool = False,
          frame: TraceFrame | None = None, data_info: dict | None = None,
          finish_on: tuple[type[BaseException], ...] = (), tags: dict[str, str] | None = None,
          resume_run_id: str | None = None) -> TrainResult:
    """Train a trace GAN in a tracked MLflow run, validate it, and (optionally) register it.

    ``callbacks`` are told every val_mmd2 (tuning reports and prunes through them); ``frame``
    and ``data_info`` skip re-reading the data when the caller already has it; exceptions in
    ``finish_on`` end the run FINISHED (see ``tracked_run``); ``tags`` go on the run.
    ``resume_run_id`` reopens that run and continues from its newest checkpoint (``data`` and
    ``config`` must be its own: ``training.resume.resume_spec``).

    If the tracking server (or the disk) fails mid-run, the error names the local checkpoint
    folder and the ``--resume`` command; checkpoints are always written locally first.
    """
    options = options or RunOptions()
    device = resolve_device(options.device)
    if frame is None:
        frame, data_info = load_frame(data)
    data_info = data_info or {}
    check_enough_rows(frame, config)
    fail_if_unreachable()
    if resume_run_id:
        check_same_data(resume_run_id, data_info)
    seed_everything(config.seed)
    source = data.trace_path or SAMPLE_SOURCE
    description = training_description(config, source, len(frame))
    with tracked_run(experiment=options.experiment, run_name=options.run_name or training_run_name(config),
                     nested=nested, tags={**lineage_tags(), **(tags or {})}, finish_on=finish_on,
                     run_id=resume_run_id, description=description, system_metrics=options.system_metrics) as run:
        run_id = run.info.run_id
        local = Path(options.save_dir) / f"{options.save_prefix}_{run_id}"
        checkpoint = resume_point(run_id, local / "checkpoints") if resume_run_id else None
        if not resume_run_id:
            log_new_params({**flatten_params("", config.to_dict()), **flatten_params("", vars(data)),
                            "device_resolved": device, "eval_every": str(options.eval_every),
                            "checkpoint_every": str(options.checkpoint_every), "bandwidth": options.bandwidth,
                            **{k: str(v) for k, v in data_info.items() if k != "data_sha256"}})
            mlflow.set_tags({"data_sha256": str(data_info.get("data_sha256", "")), "ganflow_kind": "trace-gan",
                             "loss_health": "healthy"})
            mlflow.log_dict(run_config(data, config), RUN_CONFIG)
            log_trace_datasets(frame, source=source, sha256=str(data_info.get("data_sha256", "")),
                               cut=time_split(len(frame), config.val_fraction))
        synth = Synthesizer(config, device=device)
        logger = _EpochLogger(synth, options, callbacks)
        saved: list[Path] = []
        try:
            result = _fit_and_log(synth, frame, logger, options, local, run_id, data_info, checkpoint, saved)
            summary = result_summary(result.val_mmd2, result.fidelity, result.model_epoch, result.calibrated,
                                     synth.meta.get("best_val"), as_saved=result.scored_as_saved,
                                     weights=config.select_weights)
            result.description = f"{description} {summary}".strip()
            mlflow.set_tag("mlflow.note.content", result.description)
            if result.registered_version:
                describe_model(options.register_as, f"From run {run.info.run_name} ({run_id}). {result.description}",
                               result.registered_version)
            return result
        except (MlflowException, OSError) as exc:
            where = f"checkpoints up to epoch {checkpoint_epoch(saved[-1].name)} are in {saved[-1].parent}" if saved else \
                f"no checkpoint was written yet (every {options.checkpoint_every} epochs, in {local / 'checkpoints'})"
            reason = getattr(exc, "message", str(exc)).splitlines()[0][:300]
            done = logger.losses[-1]["epoch"] if logger.losses else "0"
            raise TrackingError(f"run {run_id} stopped after epoch {done}: {reason}; {where}; "
                                f"continue with: ganflow train --resume {run_id}") from None


def _fit_and_log(synth: Synthesizer, frame: TraceFrame, logger: _EpochLogger, options: RunOptions, local: Path,
                 run_id: str, data_info: dict, checkpoint: Path | None, saved: list[Path]) -> TrainResult:
    """Inside the run: train (from ``checkpoint`` if given), validate, log the model, register."""

    def on_prepared(prepared) -> None:
        if prepared.validation is not None:
            from training.fidelity import Validator

            logger.validator = Validator(prepared.validation, sample=options.eval_sample, bandwidth=options.bandwidth)

    def on_checkpoint(path: Path) -> None:  # already on local disk; then the artifact store
        saved.append(path)
        mlflow.log_artifact(str(path), "checkpoints")

    try:
        prepared = synth.fit(frame, on_epoch_end=logger, checkpoint_dir=local / "checkpoints",
                             checkpoint_every=options.checkpoint_every, on_prepared=on_prepared,
                             on_checkpoint=on_checkpoint, resume_from=checkpoint)
    finally:
        logger.bar.close()
    mlflow.log_dict(synth.transformer.to_dict(), "scaler.json")
    mlflow.log_dict({"history": synth.history, "val_mmd2": logger.val, **synth.meta}, "training_history.json")
    if logger.val:
        best = min(logger.val, key=logger.val.get)
        mlflow.log_metrics({"best_val_mmd2": logger.val[best], "best_epoch": best})
    result = TrainResult(run_id, "", synth, local, data_info=data_info, val_mmd2=logger.val)
    # the epoch whose generator is logged, and its scores: the runs table's val_mmd2 column is the
    # last epoch's, which with keep_best is not the model's
    kept = {"model_epoch": result.model_epoch}
    if result.model_val_mmd2 is not None:
        kept["model_val_mmd2"] = result.model_val_mmd2
    if "best_val" in synth.meta:  # what keep_best minimised, and the kept epoch's parts of it
        kept["model_val_select" if any(synth.config.select_weights) else "model_val_fields"] = synth.meta["best_val"]
        kept.update({f"model_{k}": v for k, v in logger.scores.get(result.model_epoch, {}).items()
                     if k in ("val_fields", "val_detection_12", "val_burst")})
    cal = synth.meta.get("calibration")
    if cal:  # the kept generator after training.calibration: its category error and, on the same rows, its scores
        kept.update(calibration_head_error_before=cal["head_error_before"],
                    calibration_head_error_after=cal["head_error_after"])
        if logger.validator is not None:
            result.calibrated = logger.validator.scores(synth)
            kept.update({f"calibrated_{k}": v for k, v in result.calibrated.items()})
        mlflow.set_tag("calibrated", ", ".join(cal["columns"] + [f"{h} categories" for h in cal["heads"]]))
    for name, fitted in synth.meta.get("levels", {}).items():  # training.levels: each time scale's weight
        kept.update({f"level_{name}_{tau}": w for w, tau in zip(fitted["weights"], fitted["taus"])})
    if "phases" in synth.meta:  # training.phases: the opcode head's slow share, its time scale, the sticky keep
        kept.update({f"phase_{k}": float(synth.meta["phases"][k]) for k in ("rho", "tau", "keep")})
    mlflow.log_metrics(kept)
    mlflow.set_tag("model_epoch", str(result.model_epoch))
    if prepared.validation is not None:
        result.fidelity = _log_fidelity(synth, logger.validator, options, logger.val, frame.slice(0, prepared.train_rows))
    else:
        log.warning("val_fraction=0: no validation rows, so no val_mmd2 or fidelity metrics")
    from training.mlflow_model import log_synthesizer

    result.model_uri = log_synthesizer(synth, synth.save(local / "model")).model_uri
    if options.register_as:
        _register(result, options, data_info)
    return result


def _register(result: TrainResult, options: RunOptions, data_info: dict) -> None:
    last = result.synthesizer.history[-1]
    tags = {"data_sha256": str(data_info.get("data_sha256", "")), "epochs": str(last["epoch"]),
            "model_epoch": str(result.model_epoch), "final_d_loss": f"{last['d_loss']:.6f}",
            "final_g_loss": f"{last['g_loss']:.6f}", "source_run_id": result.run_id}
    if result.model_val_mmd2 is not None:  # the registered generator's: after calibration, if it was calibrated
        tags["val_mmd2"] = repr(result.final_val_mmd2)
        if result.calibrated and not result.scored_as_saved:
            tags["val_mmd2_before_calibration"] = repr(result.model_val_mmd2)
    version, alias = register_model(result.model_uri, options.register_as, tags=tags, alias=options.alias,
                                    model_description=MODEL_DESCRIPTION)
    result.registered_version, result.alias = version.version, alias or None
    mlflow.set_tags({"registered_model": options.register_as, "registered_version": version.version})
