"""Classification metrics of a run: top-k accuracy, per-class accuracy, the confusion matrix.

A row whose label is negative (`UNSCORED`) is a clip that could not be decoded: it holds its
place in a batch, so every rank's predictions have the same shape, and is not scored."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNSCORED = -100  # the label of a placeholder row (the Trainer's ignore index too)


def scored(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of clips that were decoded (label >= 0)."""
    keep = np.asarray(labels) >= 0
    return np.asarray(logits)[keep], np.asarray(labels)[keep]


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose label is among the k highest logits (k is capped at the class count);
    unscored rows are left out."""
    logits, labels = scored(logits, labels)
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """[true class, predicted class] counts."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def classification_report(
    logits: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> dict:
    """top-1, top-5, per-class accuracy (None for a class without clips) and the confusion matrix
    of the scored rows."""
    logits, labels = scored(logits, labels)
    predicted = logits.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, len(class_names))
    support = matrix.sum(axis=1)
    per_class = {
        name: (float(matrix[i, i] / support[i]) if support[i] else None)
        for i, name in enumerate(class_names)
    }
    return {
        "clips": len(labels),
        "top1": top_k_accuracy(logits, labels, 1),
        "top5": top_k_accuracy(logits, labels, 5),
        "per_class_accuracy": per_class,
        "confusion_matrix": matrix.tolist(),
    }
