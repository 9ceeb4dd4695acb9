"""Stratified splits and subsets shared by every kind that reads labelled samples."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from brainsnn.core.errors import ConfigError, DataError


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """(kept, held-out) sorted indices; ``fraction`` of the samples held out, per class."""
    splitter = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    try:
        keep, held = next(splitter.split(np.zeros(len(labels)), labels))
    except ValueError as exc:  # e.g. fewer held-out samples than classes
        raise DataError(f"cannot split {len(labels)} samples (stratified): {exc}") from None
    return np.sort(keep), np.sort(held)


def stratified_subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a stratified subset of ``size`` samples (None: every sample)."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    chosen, _ = stratified_split(labels, 1 - size / len(labels), seed)
    return chosen


def kfold_split(labels: np.ndarray, folds: int | None, fold: int | None) -> tuple[np.ndarray, ...]:
    """(train, validation) indices: fold ``fold`` of StratifiedKFold(``folds``, no shuffling)."""
    if folds is None or fold is None or fold >= folds:
        raise ConfigError("data.folds (K) and data.fold (0 to K-1) must be given together")
    splitter = StratifiedKFold(n_splits=folds, shuffle=False)
    try:
        parts = list(splitter.split(np.zeros(len(labels)), labels))
    except ValueError as exc:
        raise ConfigError(f"data.folds={folds}: {exc}") from None
    return parts[fold]


def check_split(name: str, samples: np.ndarray, labels: np.ndarray) -> None:
    """DataError, in one line, for a split no run can use: no samples, a label count that does
    not match, negative or non-integer labels, or NaN/infinite values."""
    if len(samples) == 0:
        raise DataError(f"the {name} set holds no samples")
    if len(labels) != len(samples):
        raise DataError(f"the {name} set has {len(samples)} samples but {len(labels)} labels")
    if labels.dtype.kind not in "iu" or labels.min() < 0:
        raise DataError(f"the {name} labels must be integers from 0 (found {labels.min()})")
    dense = isinstance(samples, np.ndarray)  # sparse samples are checked when made dense
    if dense and samples.dtype.kind == "f" and not np.all(np.isfinite(samples)):
        raise DataError(f"the {name} set holds NaN or infinite values")


def check_same_shape(train_shape: tuple[int, ...], test_shape: tuple[int, ...]) -> None:
    """DataError when training and test samples (shapes without the sample axis) differ."""
    if tuple(train_shape) != tuple(test_shape):
        raise DataError(
            f"training samples have shape {tuple(train_shape)} but test samples {tuple(test_shape)}"
        )


def check_samples(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> None:
    """DataError, in one line, for data no run can use: an empty split, negative or
    non-integer labels, train and test samples of different shapes, or NaN/infinite values."""
    check_split("training", train, train_labels)
    check_split("test", test, test_labels)
    check_same_shape(train.shape[1:], test.shape[1:])
