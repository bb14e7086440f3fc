"""PNG plots logged with every run: loss curves, per-column CDFs, autocorrelation, and the storage
scorecard's miss-ratio curves and request-size mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.config import TRACE_COLUMNS

__all__ = ["plot_losses", "plot_cdfs", "plot_acf", "plot_miss_ratio_curves", "plot_sizes", "plot_iops"]


def _figure(ncols: int = 1, width: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 3.4), squeeze=False)
    return plt, fig, axes[0]


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_losses(history: list[dict], val: dict[int, float], path: Path) -> Path:
    """D and G loss per epoch; val_mmd2 on a second axis where it was computed."""
    plt, fig, (ax,) = _figure()
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["d_loss"] for h in history], label="d_loss")
    ax.plot(epochs, [h["g_loss"] for h in history], label="g_loss")
    ax.set_xlabel("epoch")
    ax.legend(loc="upper left")
    if val:
        ax2 = ax.twinx()
        ax2.plot(list(val), list(val.values()), "k.--", label="val_mmd2")
        ax2.set_ylabel("val_mmd2")
        ax2.legend(loc="upper right")
    return _save(plt, fig, path)


def plot_cdfs(real: np.ndarray, synth: np.ndarray, path: Path) -> Path:
    """Empirical CDF of each column, real vs synthetic (evaluation representation)."""
    plt, fig, axes = _figure(len(TRACE_COLUMNS))
    for j, (ax, col) in enumerate(zip(axes, TRACE_COLUMNS)):
        for x, label in ((real[:, j], "real"), (synth[:, j], "synthetic")):
            xs = np.sort(x)
            ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), label=label)
        ax.set_title(col)
        if col in ("length", "latency") and real[:, j].min() > 0:
            ax.set_xscale("log")
    axes[0].legend()
    return _save(plt, fig, path)


def plot_acf(real: np.ndarray, synth: np.ndarray, path: Path, *, max_lag: int = 20) -> Path:
    """Autocorrelation at lags 1..max_lag per column, real vs synthetic."""
    from training.fidelity import acf

    lags = tuple(range(1, max_lag + 1))
    a, b = acf(real, lags), acf(synth, lags)
    plt, fig, axes = _figure(len(TRACE_COLUMNS))
    for j, (ax, col) in enumerate(zip(axes, TRACE_COLUMNS)):
        ax.plot(lags, a[:, j], "o-", label="real")
        ax.plot(lags, b[:, j], "s-", label="synthetic")
        ax.set_title(col)
        ax.set_xlabel("lag")
    axes[0].legend()
    return _save(plt, fig, path)


def plot_miss_ratio_curves(report: dict, path: Path) -> Path:
    """One panel per policy: miss ratio against cache size (4 KiB pages, log2), real vs synthetic."""
    cache = report["cache"]
    sizes = np.asarray(cache["ladder_pages"])
    plt, fig, axes = _figure(len(cache["policies"]), width=3.6)
    for ax, policy in zip(axes, cache["policies"]):
        for side, style in (("real", "o-"), ("synthetic", "s--")):
            ax.plot(sizes, cache[side][policy], style, ms=3, label=side)
        mae = report["metrics"].get(f"hrc_mae_{policy}", {}).get("error", float("nan"))
        ax.set_title(f"{policy.upper()}  (MAE {mae:.3f})")
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("cache size (4 KiB pages)")
    axes[0].set_ylabel("miss ratio")
    axes[0].legend(loc="lower left")
    return _save(plt, fig, path)


def plot_sizes(real_length: np.ndarray, synth_length: np.ndarray, path: Path, *, top: int = 12) -> Path:
    """Request-size mix: the real trace's most common sizes, and 'other', for both traces."""
    sizes, counts = np.unique(np.round(real_length), return_counts=True)
    keep = sizes[np.argsort(-counts)[:top]]
    keep.sort()

    def shares(x: np.ndarray) -> np.ndarray:
        x = np.round(x)
        out = np.array([(x == s).mean() for s in keep])
        return np.r_[out, 1 - out.sum()]

    labels = [f"{int(s) // 1024}K" if s >= 1024 and s % 1024 == 0 else f"{s:g}" for s in keep] + ["other"]
    plt, fig, (ax,) = _figure(width=8)
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, shares(real_length), 0.4, label="real")
    ax.bar(pos + 0.2, shares(synth_length), 0.4, label="synthetic")
    ax.set_xticks(pos, labels, rotation=45)
    ax.set_xlabel("request size (bytes)")
    ax.set_ylabel("share of requests")
    ax.legend()
    return _save(plt, fig, path)


def plot_iops(report: dict, path: Path) -> Path:
    """Requests per time bin (100 × the real trace's mean inter-arrival time) over time, both traces."""
    iops = report["iops"]
    plt, fig, (ax,) = _figure(width=8)
    for name, style in (("real", "-"), ("synthetic", "--")):
        y = np.asarray(iops[name])
        ax.plot(np.arange(len(y)) * iops[f"{name}_pool"], y, style, lw=1, label=name)
    ax.set_xlabel(f"time (bins of {iops['bin_ticks']:.4g} ticks)")
    ax.set_ylabel("requests per bin")
    ax.legend()
    return _save(plt, fig, path)
