"""A run's pictures: the confusion matrix and the learning curves (matplotlib, Agg, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; no display on training nodes
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], out: Path, title: str
) -> Path:
    """Row-normalised confusion matrix (rows: true class) with the counts written in."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    side = max(4.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(class_names))
    labels = [name if len(name) <= 28 else name[:27] + "…" for name in class_names]
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    if len(class_names) <= 20:
        for i, j in zip(*np.nonzero(matrix), strict=True):
            color = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of the true class")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_learning_curves(log_history: Sequence[dict], out: Path) -> Path:
    """Training loss terms per step and validation top-1 per epoch, from the Trainer's log."""
    plt = _pyplot()
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in [
        ("loss", "L (total)"),
        ("loss_cls", "L_cls"),
        ("loss_cp", "L_cp"),
        ("loss_fg", "L_fg"),
    ]:
        points = [(e["epoch"], e[key]) for e in log_history if key in e and "eval_top1" not in e]
        if points:
            loss_ax.plot(*zip(*points, strict=True), label=label)
    stage2 = [e["epoch"] for e in log_history if e.get("stage") == 2]
    if stage2:
        loss_ax.axvline(stage2[0], color="grey", linestyle=":", label="stage 2 (+L_fg)")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    loss_ax.legend()
    evals = [(e["epoch"], e["eval_top1"]) for e in log_history if "eval_top1" in e]
    if evals:
        acc_ax.plot(*zip(*evals, strict=True), marker="o", label="validation top-1")
        acc_ax.legend()
    else:  # no validation split: the last epoch is kept
        acc_ax.text(0.5, 0.5, "no validation split", ha="center", transform=acc_ax.transAxes)
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("top-1 accuracy")
    acc_ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
