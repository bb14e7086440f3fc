"""PNG plots logged with every run: loss curves, per-column CDFs, autocorrelation, and the storage
scorecard's miss-ratio curves and request-size mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.config import TRACE_COLUMNS

__all__ = ["plot_losses", "plot_cdfs", "plot_acf", "plot_miss_ratio_curves", "plot_sizes", "plot_iops", "log_figures"]


def _figure(ncols: int = 1, width: float = 4.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 3.4), squeeze=False)
    return plt, fig, axes[0]


def _save(plt, fig, path: Path | None):
    """Save to ``path`` and close (returns the path), or return the figure for ``log_figures``."""
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def log_figures(figures: dict) -> None:
    """``mlflow.log_figure`` each ``name -> figure`` as ``plots/<name>.png``, then close it."""
    import matplotlib.pyplot as plt
    import mlflow

    for name, fig in figures.items():
        mlflow.log_figure(fig, f"plots/{name}.png")
        plt.close(fig)


def plot_losses(history: list[dict], val: dict[int, float], path: Path | None = None, *, objective: str = "val_mmd2"):
    """D and G loss per epoch, and the validation objective with its best epoch marked (900 px wide)."""
    from matplotlib.ticker import MaxNLocator

    plt, fig, axes = _figure(2 if val else 1, width=5.6 if val else 10)
    ax = axes[0]
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["d_loss"] for h in history], label="d_loss (discriminator)")
    ax.plot(epochs, [h["g_loss"] for h in history], label="g_loss (generator)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("training losses")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    if val:
        vx = axes[1]
        best = min(val, key=val.get)
        vx.plot(list(val), list(val.values()), "k.-", label=objective)
        vx.plot([best], [val[best]], "r*", ms=14, label=f"best: {val[best]:.4g} at epoch {best}")
        vx.set_xlabel("epoch")
        vx.set_ylabel(objective)
        vx.set_yscale("log" if min(val.values()) > 0 else "linear")
        vx.set_title(f"validation {objective} (lower is better)")
        vx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    for a in axes:
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(plt, fig, path)


def plot_cdfs(real: np.ndarray, synth: np.ndarray, path: Path | None = None):
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


def plot_acf(real: np.ndarray, synth: np.ndarray, path: Path | None = None, *, max_lag: int = 20):
    """Autocorrelation at lags 1..max_lag per column, real vs synthetic. A monotone timestamp
    column has an ACF near 1 whatever the trace, so inter-arrival times are shown instead."""
    from training.fidelity import acf

    real, synth = real.copy(), synth.copy()
    titles = list(TRACE_COLUMNS)
    if np.all(np.diff(real[:, 0]) >= 0):
        real[:, 0], synth[:, 0] = np.diff(real[:, 0], prepend=real[0, 0]), np.diff(synth[:, 0], prepend=synth[0, 0])
        titles[0] = "inter-arrival time"
    lags = tuple(range(1, max_lag + 1))
    a, b = acf(real, lags), acf(synth, lags)
    plt, fig, axes = _figure(len(TRACE_COLUMNS))
    for j, (ax, title) in enumerate(zip(axes, titles)):
        ax.plot(lags, a[:, j], "o-", label="real")
        ax.plot(lags, b[:, j], "s-", label="synthetic")
        ax.set_title(title)
        ax.set_xlabel("lag (requests)")
    axes[0].set_ylabel("autocorrelation")
    axes[0].legend()
    return _save(plt, fig, path)


def plot_miss_ratio_curves(report: dict, path: Path | None = None):
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


def plot_sizes(real_length: np.ndarray, synth_length: np.ndarray, path: Path | None = None, *, top: int = 12):
    """Request-size mix: the real trace's most common sizes, and 'other', for both traces."""
    from training.trace_stats import top_sizes

    keep = np.sort([size for size, _ in top_sizes(real_length, top)])

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


def plot_iops(report: dict, path: Path | None = None):
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
