"""Stratified splits equal scikit-learn's, which brainsnn no longer imports to make them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.core.splits import kfold_split, stratified_split


def _cases(count: int):
    rng = np.random.default_rng(0)
    for case in range(count):
        n, classes = int(rng.integers(20, 400)), int(rng.integers(2, 11))
        labels = rng.integers(0, classes, n)
        if case % 3 == 0:  # sorted labels as well as shuffled ones
            labels = np.sort(labels)
        fraction = float(rng.choice([0.1, 0.2, 0.25, rng.random() * 0.8 + 0.1]))
        yield labels, fraction, int(rng.integers(0, 1000)), int(rng.integers(2, 11))


@pytest.mark.filterwarnings("ignore:The least populated class")  # scikit-learn's; brainsnn logs
@pytest.mark.parametrize(("labels", "fraction", "seed", "folds"), list(_cases(60)))
def test_splits_equal_scikit_learns(labels, fraction, seed, folds):
    zeros = np.zeros(len(labels))
    try:
        splitter = StratifiedShuffleSplit(1, test_size=fraction, random_state=seed)
        expected = tuple(np.sort(part) for part in next(splitter.split(zeros, labels)))
    except ValueError:
        with pytest.raises(DataError, match="stratified"):
            stratified_split(labels, fraction, seed)
    else:
        for got, want in zip(stratified_split(labels, fraction, seed), expected, strict=True):
            np.testing.assert_array_equal(got, want)
    try:
        parts = list(StratifiedKFold(folds).split(zeros, labels))
    except ValueError:
        with pytest.raises(ConfigError):
            kfold_split(labels, folds, 0)
        return
    for fold, part in enumerate(parts):
        for got, want in zip(kfold_split(labels, folds, fold), part, strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_full_size_split_equals_scikit_learns():
    labels = np.random.default_rng(1).integers(0, 10, 60_000)
    splitter = StratifiedShuffleSplit(1, test_size=0.1, random_state=0)
    expected = next(splitter.split(np.zeros(len(labels)), labels))
    for got, want in zip(stratified_split(labels, 0.1, 0), expected, strict=True):
        np.testing.assert_array_equal(got, np.sort(want))


def test_folds_larger_than_a_class_are_logged(caplog):
    labels = np.array([0] * 3 + [1] * 20)
    with caplog.at_level("WARNING", logger="brainsnn"):
        kfold_split(labels, 4, 0)
    assert "only 3 members, fewer than the 4 folds" in caplog.text
