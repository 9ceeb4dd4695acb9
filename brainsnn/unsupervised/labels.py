"""Label assignment and mean-per-class classification of spike counts (spec section B.8)."""

from __future__ import annotations

import numpy as np


def _counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"counts must have shape (n_samples, n_neurons), got shape {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative spike counts")
    return counts


def _n_classes(n_classes: int) -> int:
    if int(n_classes) < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    return int(n_classes)


def assign_labels(
    counts: np.ndarray, labels: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Assign each neuron the class to which it responds most, from spike counts (B.8 step 2).

    ``counts`` (n_samples, n_neurons) spike counts, ``labels`` (n_samples,) ints in
    [0, n_classes). Returns ``(assignment, class_response)``: assignment (n_neurons,) int64, the
    argmax over classes of the mean response (ties -> lowest class), -1 for a neuron that never
    fired on these samples; class_response (n_neurons, n_classes) float64, the mean count (spikes
    per sample) of each neuron over the samples of each class, 0 for a class without samples.
    """
    counts = _counts(counts)
    n_classes = _n_classes(n_classes)
    labels = np.asarray(labels)
    if labels.shape != (counts.shape[0],):
        raise ValueError(
            f"labels must have shape ({counts.shape[0]},) to match counts {counts.shape}, "
            f"got shape {labels.shape}"
        )
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if np.any((labels < 0) | (labels >= n_classes)):
        raise ValueError(f"labels must lie in [0, {n_classes}), got values outside it")
    one_hot = np.zeros((counts.shape[0], n_classes), dtype=np.float64)
    one_hot[np.arange(counts.shape[0]), labels] = 1.0
    per_class = one_hot.sum(axis=0)
    totals = counts.T @ one_hot  # (n_neurons, n_classes)
    class_response = np.divide(
        totals, per_class[None, :], out=np.zeros_like(totals), where=per_class[None, :] > 0
    )
    assignment = np.argmax(class_response, axis=1).astype(np.int64)
    assignment[counts.sum(axis=0) == 0] = -1
    return assignment, class_response


def classify(counts: np.ndarray, assignment: np.ndarray, n_classes: int) -> np.ndarray:
    """Predict a class per sample from spike counts and neuron assignments (B.8 step 3).

    score_k = (sum of the counts of the neurons assigned to k) / (number of such neurons), a MEAN
    per class; a class without assigned neurons scores 0, and neurons assigned -1 are ignored.
    Returns (n_samples,) int64: argmax_k score_k (ties -> lowest class), or -1 (no decision)
    where every score is 0.
    """
    counts = _counts(counts)
    n_classes = _n_classes(n_classes)
    assignment = np.asarray(assignment)
    if assignment.shape != (counts.shape[1],):
        raise ValueError(
            f"assignment must have shape ({counts.shape[1]},) to match counts {counts.shape}, "
            f"got shape {assignment.shape}"
        )
    assignment = assignment.astype(np.int64)
    if np.any((assignment < -1) | (assignment >= n_classes)):
        raise ValueError(f"assignment must lie in [-1, {n_classes}), got values outside it")
    members = np.zeros((counts.shape[1], n_classes), dtype=np.float64)
    assigned = assignment >= 0
    members[np.flatnonzero(assigned), assignment[assigned]] = 1.0
    sizes = members.sum(axis=0)
    sums = counts @ members  # (n_samples, n_classes)
    scores = np.divide(sums, sizes[None, :], out=np.zeros_like(sums), where=sizes[None, :] > 0)
    predictions = np.argmax(scores, axis=1).astype(np.int64)
    predictions[scores.max(axis=1, initial=0.0) <= 0] = -1
    return predictions


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction (0..1) of predictions equal to the labels; -1 (no decision) counts as wrong."""
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    if predictions.shape != labels.shape or predictions.ndim != 1:
        raise ValueError(
            f"predictions and labels must be 1-D of equal length, got shapes "
            f"{predictions.shape} and {labels.shape}"
        )
    if predictions.size == 0:
        raise ValueError("accuracy of an empty set of predictions is undefined")
    return float(np.mean(predictions == labels))
