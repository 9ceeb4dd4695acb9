"""Load, filter, split and encode images for an unsupervised protocol."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainsnn.core.errors import ConfigError, DataError
from brainsnn.core.splits import (
    check_samples,
    kfold_split,
    stratified_split,
    subsets,
)
from brainsnn.data import DIGITS_MAX_VALUE, MNIST_MAX_VALUE, load_digits_dataset, load_idx_dataset
from brainsnn.unsupervised.encodings import encode_for_network
from brainsnn.unsupervised.protocol import UnsupervisedData, UnsupervisedProtocol


@dataclass
class EncodedSplit:
    """Encoded samples of one split: input values (n, D), coincidence (n,), labels (n,)."""

    values: np.ndarray
    coincidence: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class PreparedImages:
    """Encoded train and test splits, class count and image shape."""

    train: EncodedSplit
    test: EncodedSplit
    n_classes: int
    classes: np.ndarray  # original label of each class index
    image_shape: tuple[int, int]
    validation: EncodedSplit | None = None  # the held-out fold of a k-fold run

    @property
    def n_inputs(self) -> int:
        """Input neurons D (one per pixel)."""
        return self.train.values.shape[1]


def load_images(data: UnsupervisedData) -> tuple[np.ndarray, ...]:
    """(train_images, train_labels, test_images, test_labels); images in [0, 1]."""
    if data.source == "digits":
        images, labels = load_digits_dataset()
        images = images / DIGITS_MAX_VALUE
        train, test = stratified_split(labels, data.test_fraction, data.split_seed)
        return images[train], labels[train], images[test], labels[test]
    if not data.path:
        raise ConfigError("data.path: the directory of the IDX files is required for idx data")
    directory = Path(data.path).expanduser()
    train_x, train_y = load_idx_dataset(directory, "train", hint=data.hint)
    test_x, test_y = load_idx_dataset(directory, "test", hint=data.hint)
    return train_x / MNIST_MAX_VALUE, train_y, test_x / MNIST_MAX_VALUE, test_y


def has_validation(data: UnsupervisedData) -> bool:
    """Whether the training set is split into a training part and a validation set."""
    return data.folds is not None or data.fold is not None or data.validation_fraction > 0


def prepare_unsupervised_data(protocol: UnsupervisedProtocol) -> PreparedImages:
    """Images of the chosen classes, subsets, and their encoding as input values."""
    data, encoding = protocol.data, protocol.encoding
    train_x, train_y, test_x, test_y = load_images(data)
    check_samples(train_x, train_y, test_x, test_y)
    if data.classes is not None:
        missing = sorted(set(data.classes) - set(np.unique(train_y).tolist()))
        if missing:
            raise ConfigError(f"data.classes: no samples of class(es) {missing} in this dataset")
        keep_train, keep_test = np.isin(train_y, data.classes), np.isin(test_y, data.classes)
        train_x, train_y = train_x[keep_train], train_y[keep_train]
        test_x, test_y = test_x[keep_test], test_y[keep_test]
    train_x, train_y, test_x, test_y = subsets(
        (train_x, train_y), (test_x, test_y), data.train_subset, data.test_subset, data.split_seed
    )
    validation = None
    if has_validation(data):
        if data.folds is not None or data.fold is not None:
            fit, held = kfold_split(train_y, data.folds, data.fold)
        else:
            fit, held = stratified_split(train_y, data.validation_fraction, data.split_seed)
        validation = (train_x[held], train_y[held])
        train_x, train_y = train_x[fit], train_y[fit]
    if len(train_y) == 0 or len(test_y) == 0:
        raise DataError("a data split is empty: use more samples or other classes")
    classes = np.unique(np.concatenate([train_y, test_y]))
    options = {
        "kernel": encoding.kernel,
        "period_scale": encoding.period_scale,
        "p_range": encoding.p_range,
        "f_range": encoding.f_range,
    }

    def encode(images: np.ndarray, labels: np.ndarray) -> EncodedSplit:
        encoded = encode_for_network(images, encoding.method, encoding.present_steps, **options)
        return EncodedSplit(
            encoded.values, encoded.coincidence, np.searchsorted(classes, labels).astype(np.int64)
        )

    return PreparedImages(
        encode(train_x, train_y),
        encode(test_x, test_y),
        len(classes),
        classes,
        (train_x.shape[1], train_x.shape[2]),
        None if validation is None else encode(*validation),
    )
