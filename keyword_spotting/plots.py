"""PNG plots of a training run: curves per stage and a confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fastgrnn_tf.atomic_io import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | Path) -> None:
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    finally:
        plt.close(fig)


def plot_history(history: dict[str, dict[str, list[float]]], path: str | Path) -> None:
    """history: {stage: {metric: [per-epoch values]}}; stages are drawn one after another."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    offset = 0
    for stage, metrics in history.items():
        n = max((len(v) for v in metrics.values()), default=0)
        xs = np.arange(offset, offset + n) + 1
        for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
            for prefix, style in (("", "-"), ("val_", "--")):
                values = metrics.get(prefix + key)
                if values:
                    ax.plot(xs[: len(values)], values, style, label=f"{stage} {prefix}{key}")
        offset += n
        for ax in axes:
            ax.axvline(offset + 0.5, color="grey", lw=0.5)
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, title: str) -> None:
    cm = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(class_names),) * 2)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=90)
    ax.set_yticks(range(len(class_names)), class_names)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(fig, path)
