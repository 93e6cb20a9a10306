"""Top-k, per-class accuracy and the confusion matrix against hand-counted values."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import classification_report, top_k_accuracy


def test_classification_report_worked_by_hand():
    logits = np.array(
        [
            [0.9, 0.05, 0.05],  # true 0, predicted 0; top-2 {0, 1}
            [0.2, 0.5, 0.3],  # true 0, predicted 1; top-2 {1, 2} (0 missing)
            [0.1, 0.6, 0.3],  # true 1, predicted 1
            [0.5, 0.1, 0.4],  # true 2, predicted 0; top-2 {0, 2}
        ]
    )
    labels = np.array([0, 0, 1, 2])
    assert top_k_accuracy(logits, labels, 1) == pytest.approx(2 / 4)
    assert top_k_accuracy(logits, labels, 2) == pytest.approx(3 / 4)
    assert top_k_accuracy(logits, labels, 5) == 1.0  # k is capped at the class count
    report = classification_report(logits, labels, ["a", "b", "c"])
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    assert report["per_class_accuracy"] == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert (report["clips"], report["top1"], report["top5"]) == (4, 0.5, 1.0)


def test_a_class_without_clips_has_no_accuracy():
    report = classification_report(np.array([[1.0, 0.0]]), np.array([0]), ["a", "b"])
    assert report["per_class_accuracy"] == {"a": 1.0, "b": None}
