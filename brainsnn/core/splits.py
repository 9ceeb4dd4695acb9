"""Stratified splits and subsets shared by every kind that reads labelled samples."""

from __future__ import annotations

import logging
import math

import numpy as np

from brainsnn.core.errors import ConfigError, DataError

log = logging.getLogger("brainsnn")


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Samples drawn per class: the floor of each class's share of ``draws``, then one more for
    the largest remainders, ties broken at random (scikit-learn's ``_approximate_mode``)."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add = min(len(tied), need)
            floored[rng.choice(tied, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    return floored.astype(int)


def _shuffle_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """(kept, held-out) indices as scikit-learn's ``StratifiedShuffleSplit(n_splits=1,
    test_size=fraction, random_state=seed)`` draws them, unsorted (ValueError as it raises)."""
    n_samples = len(labels)
    n_test = math.ceil(fraction * n_samples)
    n_train = n_samples - n_test
    if n_train <= 0:
        raise ValueError(f"test_size={fraction} leaves no training sample of {n_samples}")
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"classes {classes[counts < 2].tolist()} have only 1 member")
    for name, size in (("train", n_train), ("test", n_test)):
        if size < len(classes):
            raise ValueError(f"{name} size {size} is below the number of classes {len(classes)}")
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    kept_per_class = _approximate_mode(counts, n_train, rng)
    held_per_class = _approximate_mode(counts - kept_per_class, n_test, rng)
    kept: list[int] = []
    held: list[int] = []
    for indices, n_kept, n_held in zip(members, kept_per_class, held_per_class, strict=True):
        shuffled = indices.take(rng.permutation(len(indices)), mode="clip")
        kept.extend(shuffled[:n_kept])
        held.extend(shuffled[n_kept : n_kept + n_held])
    return rng.permutation(kept), rng.permutation(held)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    """(kept, held-out) sorted indices; ``fraction`` of the samples held out, per class.

    The same split as scikit-learn's ``StratifiedShuffleSplit`` (a test checks it), without
    importing scikit-learn, which added about 70 MB to every run's resident memory.
    """
    try:
        keep, held = _shuffle_split(np.asarray(labels), fraction, seed)
    except ValueError as exc:  # e.g. fewer held-out samples than classes
        raise DataError(f"cannot split {len(labels)} samples (stratified): {exc}") from None
    return np.sort(keep), np.sort(held)


def stratified_subset(labels: np.ndarray, size: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a stratified subset of ``size`` samples (None: every sample)."""
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    chosen, _ = stratified_split(labels, 1 - size / len(labels), seed)
    return chosen


def _test_folds(labels: np.ndarray, folds: int) -> np.ndarray:
    """The fold of each sample as scikit-learn's ``StratifiedKFold(folds, shuffle=False)``
    assigns it: classes in order of appearance, dealt round-robin, each class in blocks."""
    if folds > len(labels):
        raise ValueError(f"{folds} folds for {len(labels)} samples")
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    _, order_of_appearance = np.unique(first, return_inverse=True)
    encoded = order_of_appearance[inverse.reshape(-1)]
    counts = np.bincount(encoded)
    if np.all(folds > counts):
        raise ValueError(f"{folds} folds exceed the members of every class")
    if folds > counts.min():
        log.warning(
            "the least populated class has only %d members, fewer than the %d folds",
            counts.min(),
            folds,
        )
    ordered = np.sort(encoded)
    allocation = np.asarray(
        [np.bincount(ordered[k::folds], minlength=len(first)) for k in range(folds)]
    )
    fold_of = np.empty(len(labels), dtype=np.int64)
    for k in range(len(first)):
        fold_of[encoded == k] = np.arange(folds).repeat(allocation[:, k])
    return fold_of


def kfold_split(labels: np.ndarray, folds: int | None, fold: int | None) -> tuple[np.ndarray, ...]:
    """(train, validation) indices: fold ``fold`` of StratifiedKFold(``folds``, no shuffling),
    computed as scikit-learn does (a test checks it)."""
    if folds is None or fold is None or fold >= folds:
        raise ConfigError("data.folds (K) and data.fold (0 to K-1) must be given together")
    try:
        fold_of = _test_folds(np.asarray(labels), folds)
    except ValueError as exc:
        raise ConfigError(f"data.folds={folds}: {exc}") from None
    return np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)


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


def subsets(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    train_subset: int | None,
    test_subset: int | None,
    seed: int,
) -> tuple[np.ndarray, ...]:
    """(train_x, train_y, test_x, test_y) cut to stratified subsets (stored order kept)."""
    train_rows = stratified_subset(train[1], train_subset, seed)
    test_rows = stratified_subset(test[1], test_subset, seed)
    return train[0][train_rows], train[1][train_rows], test[0][test_rows], test[1][test_rows]


def check_samples(
    train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> None:
    """DataError, in one line, for data no run can use: an empty split, negative or
    non-integer labels, train and test samples of different shapes, or NaN/infinite values."""
    check_split("training", train, train_labels)
    check_split("test", test, test_labels)
    check_same_shape(train.shape[1:], test.shape[1:])
