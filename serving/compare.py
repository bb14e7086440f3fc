"""Side-by-side scorecards of trace runs: ``ganflow compare RUN_OR_MODEL ...``.

Each argument is a run ID, ``runs:/ID``, or a registered model (``models:/name@alias``,
``models:/name/N``), which stands for the run that trained it. The runs' ``fidelity.json``
scorecards are read from the tracking server as data; nothing is recomputed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import mlflow
import numpy as np

from training.errors import ModelError
from training.scorecard import HEADLINE

__all__ = ["RunCard", "load_cards", "compare_table", "log_comparison"]

_RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?")


@dataclass
class RunCard:
    ref: str
    run_id: str
    name: str
    params: dict[str, str]
    data_sha256: str
    card: dict


def _run_id(ref: str) -> str:
    m = _RUN_ID.match(ref)
    if m:
        return m.group(1)
    if ref.startswith("models:/"):
        from serving.registry import resolve_version

        run_id = resolve_version(ref).get("source_run_id")
        if run_id:
            return run_id
    raise ModelError(f"{ref!r}: not a run ID, runs:/ID, or models:/NAME@ALIAS | models:/NAME/N with a source run")


def load_cards(refs: list[str]) -> list[RunCard]:
    """Each reference's run and its scorecard, or a ``ModelError`` naming the one that lacks it."""
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    cards = []
    for ref in refs:
        run_id = _run_id(ref)
        try:
            run = client.get_run(run_id)
            report = mlflow.artifacts.load_dict(f"runs:/{run_id}/fidelity.json")
        except MlflowException as exc:
            raise ModelError(f"{ref!r}: {exc.message.splitlines()[0]}") from None
        if "scorecard" not in report:
            raise ModelError(f"{ref!r}: run {run_id} has no scorecard in its fidelity.json (trained before it existed?)")
        cards.append(RunCard(ref, run_id, run.info.run_name, dict(run.data.params),
                             run.data.tags.get("data_sha256", ""), report["scorecard"]))
    return cards


def compare_table(cards: list[RunCard]) -> list[str]:
    """Headline errors per run (the floor of the first run's data beside them), then the params that differ."""
    width = max(12, *(len(c.name) + 2 for c in cards))
    lines = [f"{'metric':<22}" + "".join(f"{c.name:>{width}}" for c in cards) + f"{'floor':>10}"]
    for key in HEADLINE:
        values = [c.card["metrics"].get(key, {}).get("error") for c in cards]
        if all(v is None for v in values):
            continue
        floor = cards[0].card["metrics"].get(key, {}).get("floor")
        cells = "".join(f"{'—' if v is None else f'{v:.4g}':>{width}}" for v in values)
        lines.append(f"{key:<22}{cells}{'—' if floor is None else f'{floor:.4g}':>10}")
    lines.append(f"{'within 2x floor':<22}" + "".join(f"{c.card['within_2x_floor']:>{width}}" for c in cards))
    keys = sorted({k for c in cards for k in c.params})
    differ = [k for k in keys if len({c.params.get(k) for c in cards}) > 1 and k not in ("data_source",)]
    for key in differ:
        lines.append(f"{key:<22}" + "".join(f"{str(c.params.get(key, '—'))[:width - 2]:>{width}}" for c in cards))
    if len({c.data_sha256 for c in cards}) > 1:
        lines.append("note: the runs were trained on different data; each scorecard is against its own held-out rows")
    return lines


def _overlay(cards: list[RunCard]):
    from training.plots import _figure

    cache = cards[0].card["cache"]
    plt, fig, axes = _figure(len(cache["policies"]), width=3.6)
    for ax, policy in zip(axes, cache["policies"]):
        ax.plot(cache["ladder_pages"], cache["real"][policy], "k-", lw=2, label="real")
        for c in cards:
            ax.plot(c.card["cache"]["ladder_pages"], c.card["cache"]["synthetic"][policy], "--", label=c.name)
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 1.02)
        ax.set_title(policy.upper())
        ax.set_xlabel("cache size (4 KiB pages)")
    axes[0].set_ylabel("miss ratio")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def _sizes(cards: list[RunCard]):
    from training.plots import _figure

    real = dict((s, p) for s, p in cards[0].card["sizes"]["real_top"])
    keys = sorted(real)
    plt, fig, (ax,) = _figure(width=9)
    pos = np.arange(len(keys))
    step = 0.8 / (len(cards) + 1)
    ax.bar(pos, [real[k] for k in keys], step, label="real", color="k")
    for i, c in enumerate(cards, start=1):
        synth = dict((s, p) for s, p in c.card["sizes"]["synthetic_top"])
        ax.bar(pos + i * step, [synth.get(k, 0.0) for k in keys], step, label=c.name)
    ax.set_xticks(pos + 0.4 - step / 2, [f"{int(k):,}" for k in keys], rotation=45)
    ax.set_xlabel("request size (bytes): the real trace's most common")
    ax.set_ylabel("share of requests")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def log_comparison(cards: list[RunCard], lines: list[str], experiment: str = "trace-gan-compare") -> str:
    """One MLflow run holding the table, the overlaid miss-ratio curves and the size mixes."""
    from training.plots import log_figures
    from training.tracking import lineage_tags, tracked_run

    names = ", ".join(f"{c.name} ({c.run_id})" for c in cards)
    with tracked_run(experiment=experiment, run_name=f"compare-{len(cards)}-runs", tags=lineage_tags(),
                     description=f"Scorecards of {names} side by side.") as run:
        mlflow.log_params({f"run_{i}": c.run_id for i, c in enumerate(cards)})
        mlflow.log_text("\n".join(lines) + "\n", "comparison.txt")
        mlflow.log_dict({c.run_id: {"name": c.name, "ref": c.ref, "scorecard": c.card} for c in cards},
                        "comparison.json")
        log_figures({"miss_ratio_curves": _overlay(cards), "sizes": _sizes(cards)})
        return run.info.run_id
