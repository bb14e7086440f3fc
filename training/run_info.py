"""What a training run is called and how it describes itself and its data in the MLflow UI."""

from __future__ import annotations

import hashlib
from pathlib import Path

from training.config import TraceGANConfig
from training.readers import TraceFrame
from training.trace_stats import top_sizes
from training.tracking import log_dataset, short_number

__all__ = ["lr_label", "training_run_name", "training_description", "result_summary", "log_trace_datasets",
           "SAMPLE_SOURCE"]

SAMPLE_SOURCE = "ganflow-sample-trace"  # the bundled sample, when no --trace_path is given
TRACE_SCHEMA = {"timestamp": "long", "length": "double", "lba": "double", "latency": "double", "opcode": "integer"}


def lr_label(v: float) -> str:
    """``5e-4`` for 0.0005, ``4.3e-5`` for 4.2759e-05: short enough for a run name."""
    mantissa, exponent = f"{v:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def training_run_name(config: TraceGANConfig) -> str:
    """``gan-typed-lr5e-4-s42`` (``wgan-…`` with the Wasserstein loss); the D:G ratio and a different
    D rate are added when not 1:1 / equal."""
    loss = "wgan" if config.loss == "wgan-gp" else "gan"
    name = f"{loss}-{config.feature_mode}-lr{lr_label(config.lr_g)}"
    if config.lr_d != config.lr_g:
        name += f"-lrd{lr_label(config.lr_d)}"
    if (config.d_updates, config.g_updates) != (1, 1):
        name += f"-d{config.d_updates}g{config.g_updates}"
    return f"{name}-s{config.seed}"


def training_description(config: TraceGANConfig, source: str, rows: int) -> str:
    """One paragraph: the data and the model (the results are added when the run ends)."""
    log1p = f", log1p on {', '.join(config.log1p)}" if config.log1p and config.feature_mode == "delta" else ""
    if config.feature_mode == "typed":
        first = ", drawn first, the other outputs given it" if config.address_first else ""
        address = (f"addresses as LRU-stack actions ({config.locality}, {config.reuse_buckets} buckets{first})"
                   if config.locality != "none" else "LBA scaled")
        skip = "; each row's noise also straight to its latency" if config.noise_skip else ""
        log1p = f" ({config.continuous} inter-arrival/latency, sizes and opcode categorical, {address}{skip})"
    joined = {0: ", streams carried through each epoch in training", 1: ""}.get(
        config.join_windows, f", {config.join_windows} windows joined in training")
    slow = f" and {config.slow_inputs} slow latent inputs" if config.slow_inputs else ""
    if config.sticky_heads and config.feature_mode == "typed":
        joined = f"; categories kept from row to row as often as the trace repeats them{joined}"
    burn = f" from a {config.burn_in:,}-row burn-in" if config.burn_in else ""
    log1p += (f"; sampled as one stream (LSTM state{slow} carried{burn}{joined})" if config.carry_state
              else "; sampled as independent windows")
    if config.feature_mode == "typed" and config.calibrate:
        stack = config.locality != "none"
        parts = [w for w, on in (("sizes given the address action", stack and config.address_first and config.calibrate_by_action),
                                 ("the address actions' mix G's own", stack and not config.calibrate_address)) if on]
        which = f" ({'; '.join(parts)})" if parts else ""
        log1p += f"; marginals{which} calibrated to the training part after training"
        if config.levels and config.carry_state:
            log1p += ", then slow levels of inter-arrival time and latency fitted to its window statistics"
        if config.phases and config.carry_state:
            log1p += ", then read/write phases (a slow share of the opcode's noise, where the trace has one) fitted to its runs"
    if config.loss == "wgan-gp":
        log1p += f"; WGAN-GP (penalty {config.gp_weight:g})"
    terms = [f"{name} term x{w:g}" for name, w in (("moment", config.moment_weight), ("window-shape", config.window_weight))
             if w > 0]
    if terms:
        log1p += f"; G's loss with the {' and the '.join(terms)}"
    held = f"the last {config.val_fraction:.0%} held out for validation" if config.val_fraction > 0 else "no hold-out"
    return (f"Trace GAN on {Path(source).name} ({rows:,} rows, {held}). LSTM G/D, hidden {config.hidden_dim}, "
            f"latent {config.latent_dim}, seq_len {config.seq_len}, {config.feature_mode} features{log1p}; "
            f"Adam lr G {short_number(config.lr_g)} / D {short_number(config.lr_d)}, "
            f"{config.d_updates} D : {config.g_updates} G, batch {config.batch_size}, {config.num_epochs} epochs, "
            f"seed {config.seed}.")


def result_summary(val_mmd2: dict[int, float], fidelity: dict, model_epoch: int | None = None,
                   calibrated: dict | None = None, kept_val_fields: float | None = None, *,
                   as_saved: bool = False, weights: tuple[float, float] = (0.0, 0.0)) -> str:
    """``val_mmd2 0.038 at epoch 40, the generator kept (last 0.056 at epoch 50), every epoch scored
    calibrated, as saved; scorecard: …`` or '' without validation. ``kept_val_fields``: keep_best
    chose the epoch by its val_fields, said so (else a kept epoch whose val_mmd2 is above the last
    one's looks like a mistake); with keep_best's ``weights`` (``TraceGANConfig.select_weights``) it is
    val_select, said so. ``calibrated``: the saved generator's scores after calibration;
    ``as_saved``: the epochs were scored calibrated too (``Synthesizer.epoch_model``), so they are
    those of ``val_mmd2``, else they are given after it (``; after calibration val_mmd2 …``)."""
    if not val_mmd2:
        return ""
    last = max(val_mmd2)
    kept = model_epoch if model_epoch in val_mmd2 else last
    text = f"val_mmd2 {val_mmd2[kept]:.4g} at epoch {kept}, the generator kept"
    if kept_val_fields is not None:
        measure = "val_fields" + "".join(f" + {w:g} × {name}" for w, name in zip(weights, ("12-row detection",
                                                                                            "burstiness")) if w)
        text += f" for the lowest {measure} ({kept_val_fields:.3g}"
        text += f"; last epoch {last}: val_mmd2 {val_mmd2[last]:.4g})" if kept != last else ")"
    elif kept != last:
        text += f" (last {val_mmd2[last]:.4g} at epoch {last})"
    if as_saved:
        text += ", every epoch scored calibrated, as saved"
    elif calibrated:
        text += (f"; after calibration val_mmd2 {calibrated['val_mmd2']:.4g}, val_fields "
                 f"{calibrated['val_fields']:.3g}")
    card = fidelity.get("scorecard")
    if card:
        m = card["metrics"]
        text += (f"; scorecard: {card['verdict']}; hrc_mae {m['hrc_mae']['error']:.3g} (floor "
                 f"{m['hrc_mae']['floor']:.3g}), reuse rate {m['reuse_rate']['synthetic']:.3g} vs real "
                 f"{m['reuse_rate']['real']:.3g}")
        if m.get("read_fraction", {}).get("synthetic") is not None:
            text += f", read fraction {m['read_fraction']['synthetic']:.3g} vs real {m['read_fraction']['real']:.3g}"
    return text + "."


def _profile(frame: TraceFrame) -> dict:
    known = frame.opcode >= 0
    return {"rows": len(frame), "time_span_ticks": int(frame.timestamp[-1] - frame.timestamp[0]) if len(frame) else 0,
            "read_fraction": float((frame.opcode[known] == 0).mean()) if known.any() else None,
            "top_sizes": {str(int(size)): share for size, share in top_sizes(frame.length, 5, digits=4)}}


def log_trace_datasets(frame: TraceFrame, *, source: str, sha256: str, cut: int) -> None:
    """The training rows ``[0, cut)`` and the validation rows ``[cut, n)`` as two dataset inputs."""
    name = Path(source).name
    parts = [("training", 0, cut)] + ([("validation", cut, len(frame))] if cut < len(frame) else [])
    for context, start, stop in parts:
        digest = hashlib.sha256(f"{sha256}:{start}:{stop}".encode()).hexdigest()
        profile = {"file_sha256": sha256, "row_range": [start, stop], **_profile(frame.slice(start, stop))}
        log_dataset(source=source, name=f"{name} [{context}]", sha256=digest, context=context, profile=profile,
                    columns=TRACE_SCHEMA)
